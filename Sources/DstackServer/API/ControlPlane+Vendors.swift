import DstackAPI
import DstackCore
import Foundation

extension ControlPlane {
    /// Each vendor's configure form with what is saved now; secrets only masked.
    func vendors() throws -> [VendorDescription] {
        let configuration = try workspace.configuration()
        let context = try workspace.context()
        return workspace.registry.plugins.map { plugin in
            Self.describe(plugin, saved: configuration.providers[plugin.vendor] ?? [:],
                          active: configuration.activeVendor == plugin.vendor, fallbacks: plugin.environmentFallbacks(context))
        }
    }

    func vendor(_ name: String) throws -> VendorDescription {
        guard let plugin = workspace.registry.plugin(named: name) else {
            throw APIRequestError.notFound(WorkspaceError.unknownVendor(name, known: workspace.registry.vendors).description)
        }
        let configuration = try workspace.configuration()
        return Self.describe(plugin, saved: configuration.providers[plugin.vendor] ?? [:],
                             active: configuration.activeVendor == plugin.vendor,
                             fallbacks: plugin.environmentFallbacks(try workspace.context()))
    }

    /// Merges new values into the saved settings, checks them with the provider (unless
    /// told not to), saves them and makes the vendor active. Nothing is saved on failure.
    func configure(_ name: String, _ request: ConfigureVendorRequest) async throws -> VendorDescription {
        guard let plugin = workspace.registry.plugin(named: name) else {
            throw APIRequestError.notFound(WorkspaceError.unknownVendor(name, known: workspace.registry.vendors).description)
        }
        for key in request.settings.keys where !plugin.fields.contains(where: { $0.key == key }) {
            throw APIRequestError.badRequest("\(plugin.displayName) has no setting '\(key)'; it has "
                + plugin.fields.map(\.key).joined(separator: ", "))
        }
        var configuration = try workspace.configuration()
        let current = configuration.providers[plugin.vendor] ?? [:]
        let finished = try ConfigureForm(plugin: plugin).finish(current.merging(request.settings) { _, new in new })
        if request.verify {
            let context = try workspace.context()
            let provider = try plugin.makeProvider(finished, context)
            try await provider.verifyConfiguration()
            // The bucket the settings name, if any, must exist, be reachable and be in the region.
            if let bucket = try plugin.makeArtifactBucket(finished, context) {
                try await bucket.check()
            }
        }
        configuration.providers[plugin.vendor] = finished
        configuration.activeVendor = plugin.vendor
        try workspace.configStore.save(configuration)
        offerings.forget()
        loop.wake()
        return Self.describe(plugin, saved: finished, active: true, fallbacks: plugin.environmentFallbacks(try workspace.context()))
    }

    static func describe(_ plugin: ProviderPlugin, saved: ProviderSettings, active: Bool,
                         fallbacks: ProviderSettings = [:]) -> VendorDescription {
        VendorDescription(vendor: plugin.vendor, displayName: plugin.displayName, active: active, fields: plugin.fields.map { field in
            VendorField(key: field.key, label: field.label, secret: field.isSecret, optional: field.isOptional,
                        prompted: field.isPrompted, defaultValue: field.defaultValue, help: field.help,
                        current: saved[field.key].map { field.isSecret ? SecretMask.mask($0) : $0 },
                        fallback: fallbacks[field.key].map { field.isSecret ? SecretMask.mask($0) : $0 })
        })
    }
}

extension ControlPlane {
    func listUsers() throws -> [UserInfo] {
        try workspace.state().read { try $0.users() }.map(Self.info)
    }

    func addUser(_ request: NewUserRequest) throws -> NewUserReply {
        do {
            let (user, token) = try users.add(name: request.name, role: request.role.rawValue)
            return NewUserReply(user: Self.info(user), token: token)
        } catch let error as UserError {
            if case .exists = error { throw APIRequestError.conflict(error.description) }
            throw APIRequestError.badRequest(error.description)
        }
    }

    func removeUser(_ name: String) throws {
        do {
            try users.remove(name: name)
        } catch let error as UserError {
            if case .unknown = error { throw APIRequestError.notFound(error.description) }
            throw APIRequestError.conflict(error.description)
        }
    }

    static func info(_ user: StoredUser) -> UserInfo {
        UserInfo(name: user.name, role: UserRole(rawValue: user.role) ?? .user, createdAt: user.createdAt)
    }
}
