import DstackCore
import Foundation

/// `dstack <vendor> configure`: prompts for the plugin's fields (or takes them as flags,
/// or from piped standard input), verifies them with the provider, then saves them and
/// makes the vendor active. Nothing is saved when any step fails.
struct VendorConfigure {
    var plugin: ProviderPlugin
    var arguments: [String]

    func run() async throws {
        let form = ConfigureForm(plugin: plugin)
        let parsed = try form.parse(arguments)
        if parsed.help {
            say(form.help)
            return
        }
        let workspace = CommandContext.workspace()
        var configuration = try workspace.configuration()
        let current = configuration.providers[plugin.vendor] ?? [:]
        var settings = current.merging(parsed.values) { _, new in new }

        for field in plugin.fields where field.isPrompted && parsed.values[field.key] == nil {
            print(form.prompt(for: field, current: current[field.key]), terminator: "")
            fflush(nil) // every stream: `stdout` itself is a global Swift 6 will not touch
            guard let answer = readLine(strippingNewline: true) else {
                print("")
                // Piped input may stop early; fields that already have a value keep it.
                if current[field.key] != nil || field.isOptional || field.defaultValue != nil { continue }
                throw ConfigureError.inputEnded(label: field.label)
            }
            settings[field.key] = form.resolve(field, current: current[field.key], answer: answer) ?? ""
        }
        let finished = try form.finish(settings)

        if parsed.verify {
            let provider = try plugin.makeProvider(finished, try workspace.context())
            try await provider.verifyConfiguration()
        }
        configuration.providers[plugin.vendor] = finished
        configuration.activeVendor = plugin.vendor
        try workspace.configStore.save(configuration)
        say("Saved the \(plugin.displayName) settings to \(workspace.configStore.path); \(plugin.displayName) is now the active provider.")
    }
}
