import DstackProvider

/// An error reply from EC2: `<Response><Errors><Error><Code>…<Message>…`.
public struct EC2ErrorReply: Error, Sendable, Equatable {
    public var status: Int
    public var code: String
    public var message: String
    public var requestID: String?

    /// Reads the error shape; nil when the body is not one (an HTML 502 page, say).
    static func parse(status: Int, body: [UInt8]) -> EC2ErrorReply? {
        guard let root = try? EC2XML.parse(body) else { return nil }
        // EC2 uses <Response><Errors><Error>; STS/IAM-style replies use <ErrorResponse><Error>.
        guard let error = root.child("Errors")?.child("Error") ?? root.child("Error") ?? (root.name == "Error" ? root : nil),
              let code = error.string("Code"), !code.isEmpty else { return nil }
        return EC2ErrorReply(status: status, code: code, message: error.string("Message") ?? "",
                             requestID: root.string("RequestID") ?? root.string("RequestId"))
    }

    static let throttlingCodes: Set<String> = [
        "RequestLimitExceeded", "Throttling", "ThrottlingException", "RequestThrottled",
        "RequestThrottledException", "TooManyRequestsException", "SlowDown", "EC2ThrottledException",
    ]
    static let credentialCodes: Set<String> = [
        "AuthFailure", "SignatureDoesNotMatch", "InvalidClientTokenId", "IncompleteSignature",
        "MissingAuthenticationToken", "InvalidAccessKeyId", "UnrecognizedClientException",
        "ExpiredToken", "RequestExpired",
    ]
    static let deniedCodes: Set<String> = ["UnauthorizedOperation", "AccessDenied", "AccessDeniedException"]
    static let capacityCodes: Set<String> = [
        "InsufficientInstanceCapacity", "InsufficientCapacity", "SpotMaxPriceTooLow", "MaxSpotInstanceCountExceeded",
        "InsufficientFreeAddressesInSubnet",
    ]

    var isThrottling: Bool { Self.throttlingCodes.contains(code) || status == 429 }
    /// Server faults EC2 asks clients to retry.
    var isServerFault: Bool { status >= 500 || code == "InternalError" || code == "Unavailable" || code == "ServiceUnavailable" }
    /// Capacity errors come as 5xx from EC2 but are an answer, not a fault: the
    /// autoscaler decides what to do with them, so they are never retried here.
    var isRetryable: Bool { !Self.capacityCodes.contains(code) && (isThrottling || isServerFault) }
    var isNotFound: Bool { code.hasSuffix(".NotFound") || code.hasSuffix(".Malformed") && message.contains("does not exist") }

    /// The `ProviderError` a caller sees. `action` is the EC2 action ("RequestSpotInstances").
    func providerError(action: String, instanceType: String? = nil) -> ProviderError {
        if Self.credentialCodes.contains(code) {
            return .invalidCredentials(detail: "\(code): \(message)")
        }
        if Self.deniedCodes.contains(code) {
            return .accessDenied(action: "ec2:\(action)", detail: "\(code): \(message)")
        }
        if Self.capacityCodes.contains(code) {
            return .capacityUnavailable(instanceType: instanceType ?? "", detail: "\(code): \(message)")
        }
        if isThrottling {
            return .throttled(detail: "\(code): \(message)")
        }
        return .cloud(code: code, detail: message)
    }

    /// The resource IDs an `Invalid…ID.NotFound` message names, e.g.
    /// "The instance IDs 'i-1, i-2' do not exist" → ["i-1", "i-2"]. Tokenised on
    /// characters that cannot be in an ID, then kept when they start with a prefix.
    func missingIDs(prefixes: [String]) -> [String] {
        var ids: [String] = []
        var token = ""
        func flush() {
            if prefixes.contains(where: { token.hasPrefix($0) && token.count > $0.count }), !ids.contains(token) {
                ids.append(token)
            }
            token = ""
        }
        for character in message {
            if character.isLetter || character.isNumber || character == "-" {
                token.append(character)
            } else {
                flush()
            }
        }
        flush()
        return ids
    }
}
