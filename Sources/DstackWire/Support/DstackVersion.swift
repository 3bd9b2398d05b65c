/// The one version number of dstack: `dstack --version` prints it.
public enum DstackVersion {
    public static let current = "0.2.0"
}
