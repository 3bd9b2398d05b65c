import DstackProvider
import Foundation

/// What `dstack <vendor> configure` promises about a plugin's fields, checked on the
/// plugin alone (no cloud, no binary): names the CLI can use, prompts that read as the
/// seed's, defaults that apply, and secrets that never show in full.
public enum PluginFieldChecks {
    /// Every broken promise, one sentence each; empty when the fields are sound.
    /// `settings`, when given, are values configure must accept as complete (the ones
    /// the other checks use).
    public static func failures(of plugin: ProviderPlugin, settings: ProviderSettings? = nil) -> [String] {
        var failures: [String] = []
        let form = ConfigureForm(plugin: plugin)
        if plugin.vendor.range(of: "^[a-z][a-z0-9]*$", options: .regularExpression) == nil {
            failures.append("the vendor \"\(plugin.vendor)\" is not one lower-case word, so it cannot be `dstack VENDOR configure`")
        }
        if plugin.displayName.isEmpty { failures.append("the display name is empty") }
        failures += duplicates(plugin.fields.map(\.key)).map { "two fields have the key \($0)" }
        failures += duplicates(plugin.fields.map(\.label)).map { "two fields have the label \"\($0)\"" }
        for field in plugin.fields {
            failures += self.failures(of: field, in: form)
        }
        guard let settings else { return failures }
        for key in settings.keys.sorted() where !plugin.fields.contains(where: { $0.key == key }) {
            failures.append("the settings have \(key), which is no field: configure could never save it")
        }
        do {
            _ = try form.finish(settings)
        } catch {
            failures.append("the settings are not complete for configure: \(error)")
        }
        return failures
    }

    private static func failures(of field: ConfigField, in form: ConfigureForm) -> [String] {
        var failures: [String] = []
        let name = field.key.isEmpty ? "a field" : field.key
        if field.key.range(of: "^[a-z][a-z0-9]*(_[a-z0-9]+)*$", options: .regularExpression) == nil {
            failures.append("\(name): the key is not snake_case, so its flag --\(field.flagName) reads oddly")
        }
        if ["no-verify", "help"].contains(field.flagName) {
            failures.append("\(name): --\(field.flagName) is taken by configure itself")
        }
        if field.label.isEmpty || field.label.contains("\n") { failures.append("\(name): the label must be one non-empty line") }
        if field.help.isEmpty || field.help.contains("\n") { failures.append("\(name): the --help text must be one non-empty line") }
        if !field.isOptional && !field.isPrompted && field.defaultValue == nil {
            failures.append("\(name): required but flag-only with no default, so answering the prompts can never finish")
        }

        // The prompt: the label, then what Enter keeps in brackets, as `aws configure` reads.
        let prompt = form.prompt(for: field, current: nil)
        let expected: String
        if let defaultValue = field.defaultValue {
            expected = "\(field.label) [\(defaultValue)]: "
        } else {
            expected = field.isOptional ? "\(field.label) [None]: " : "\(field.label): "
        }
        if prompt != expected { failures.append("\(name): the prompt reads \"\(prompt)\", expected \"\(expected)\"") }

        // Defaults apply both to an Enter at the prompt and to a field left out entirely.
        if let defaultValue = field.defaultValue {
            if form.resolve(field, current: nil, answer: "") != defaultValue {
                failures.append("\(name): Enter does not give the default \(defaultValue)")
            }
            if (try? form.finish([:]))?[field.key] ?? defaultValue != defaultValue {
                failures.append("\(name): a configure without it does not save the default \(defaultValue)")
            }
        }

        // The flag sets the field.
        let parsed = try? form.parse(["--\(field.flagName)", "value-1"])
        if parsed?.values[field.key] != "value-1" {
            failures.append("\(name): --\(field.flagName) VALUE does not set it")
        }

        // A secret is shown masked, and has no default (a default secret is no secret).
        if field.isSecret {
            let secret = "s3cret-VALUE-wxyz"
            let shown = form.prompt(for: field, current: secret)
            if shown.contains(secret) || !shown.contains(SecretMask.mask(secret)) {
                failures.append("\(name): a saved secret is shown as \"\(shown)\", not masked")
            }
            if field.defaultValue != nil { failures.append("\(name): a secret has a default value") }
        }
        return failures
    }

    private static func duplicates(_ values: [String]) -> [String] {
        var seen = Set<String>(), repeated: [String] = []
        for value in values where !seen.insert(value).inserted && !repeated.contains(value) { repeated.append(value) }
        return repeated
    }
}
