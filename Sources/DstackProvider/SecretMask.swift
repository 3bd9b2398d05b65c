/// Shows a secret the way `aws configure` does: sixteen stars and the last four
/// characters, so a user can tell which key is saved without it being readable.
public enum SecretMask {
    public static func mask(_ secret: String) -> String {
        guard secret.count > 4 else { return String(repeating: "*", count: 16) }
        return String(repeating: "*", count: 16) + secret.suffix(4)
    }
}
