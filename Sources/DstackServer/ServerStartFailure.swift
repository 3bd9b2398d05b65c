import Foundation
import NIOCore

/// Failures of the server itself worth their own sentence.
public enum ServerStartFailure {
    /// True when the listening socket could not be bound because the port is taken.
    public static func isAddressInUse(_ error: Error) -> Bool {
        if let error = error as? IOError { return error.errnoCode == EADDRINUSE }
        return false
    }
}
