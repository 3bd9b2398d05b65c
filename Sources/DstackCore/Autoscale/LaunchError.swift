import Foundation

/// What `dstack instances terminate` refuses.
public enum LaunchError: Error, Equatable, CustomStringConvertible {
    case unknownInstance(String)

    public var description: String {
        switch self {
        case .unknownInstance(let id):
            return "no managed instance '\(id)'; see 'dstack instances'"
        }
    }
}
