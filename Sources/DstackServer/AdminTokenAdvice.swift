import DstackCore
import Foundation

/// What a server (or `dstack server admin-token`) says when this home has no token that
/// opens the admin of a database other servers share: how to get one, never a token.
public enum AdminTokenAdvice {
    public static func elsewhere(home: DstackHome) -> String {
        "\(UserDirectory.adminTokenFile(home).path) does not open the admin user of this shared database (another server "
            + "created it): copy admin.token from that server's home, sign in with 'dstack login' and a token from "
            + "'dstack users add', or run 'dstack server admin-token --reset' here (the admin's old token then stops working everywhere)"
    }
}
