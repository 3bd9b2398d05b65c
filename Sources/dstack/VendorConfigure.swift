import DstackAPI
import DstackCLIKit
import DstackProject
import DstackProvider
import DstackWire
import Foundation

/// `dstack <vendor> configure`: prompts for the plugin's fields (or takes them as flags,
/// or from piped standard input) and hands them to the server, which checks them with
/// the provider, saves them and makes the vendor active. The prompts show what the
/// server has saved, secrets masked; nothing is saved when any step fails.
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
        let client = try await ServerConnection.client()
        let saved = try await client.get(APIPaths.vendor(plugin.vendor), as: VendorDescription.self)
        var current: [String: String] = [:]
        var fallbacks: [String: String] = [:]
        for field in saved.fields {
            if let value = field.current { current[field.key] = value }
            if let value = field.fallback { fallbacks[field.key] = value }
        }
        var changes = parsed.values

        for field in plugin.fields where field.isPrompted && parsed.values[field.key] == nil {
            print(form.prompt(for: field, current: current[field.key], fallback: fallbacks[field.key]), terminator: "")
            fflush(nil) // every stream: `stdout` itself is a global Swift 6 will not touch
            guard let answer = readLine(strippingNewline: true) else {
                print("")
                // Piped input may stop early; fields that already have a value keep it.
                if current[field.key] != nil || field.isOptional || field.defaultValue != nil { continue }
                throw ConfigureError.inputEnded(label: field.label)
            }
            let trimmed = answer.trimmingCharacters(in: .whitespacesAndNewlines)
            // Enter keeps what is saved (the server has it; the CLI only saw it masked).
            if !trimmed.isEmpty { changes[field.key] = trimmed }
        }
        // A required field with nothing saved, nothing typed and no default is refused
        // here, before the server is asked (it would refuse it too).
        _ = try form.finish(current.merging(changes) { _, new in new })

        let result = try await client.put(APIPaths.vendor(plugin.vendor),
                                          ConfigureVendorRequest(settings: changes, verify: parsed.verify),
                                          as: VendorDescription.self)
        say("Saved the \(result.displayName) settings on the dstack server at \(client.endpoint.url); "
            + "\(result.displayName) is now the active provider.")
    }
}
