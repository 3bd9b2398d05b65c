@testable import DstackServer
import DstackAPI
import DstackCore
import DstackLocal
import Foundation
import Hummingbird
import XCTest

/// The OpenAPI document is the API's contract: every route the server registers is in
/// it, with the same method, and it names no route the server lacks.
final class OpenAPIDocumentTests: XCTestCase {
    func testEveryRegisteredRouteIsDescribedAndNothingElse() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("dstack-openapi-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: home) }
        let workspace = Workspace(home: DstackHome(url: home), registry: ProviderRegistry([LocalPlugin.plugin]))
        let signal = WakeSignal()
        let reconciler = Reconciler(workspace: workspace)
        let loop = ReconcileLoop(reconciler: reconciler, signal: signal, interval: 10)
        let control = try ControlPlane(workspace: workspace, reconciler: reconciler, loop: loop, signal: signal)
        let registered = APIRoutes(control: control).add(to: Router()).map { route -> String in
            // Hummingbird's ":name" is OpenAPI's "{name}".
            let parts = route.split(separator: " ", maxSplits: 1)
            let path = parts[1].split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }
            return "\(parts[0]) /" + path.joined(separator: "/")
        }

        let document = try JSONValue.parse(OpenAPIDocument.text)
        var described: [String] = []
        for (path, item) in document["paths"]?.objectValue?.entries ?? [] {
            for (method, _) in item.objectValue?.entries ?? [] { described.append("\(method.uppercased()) \(path)") }
        }
        XCTAssertEqual(Set(registered).subtracting(described).sorted(), [], "routes the document does not describe")
        XCTAssertEqual(Set(described).subtracting(registered).sorted(), [], "routes the document names that the server lacks")
        XCTAssertEqual(registered.count, Set(registered).count, "a route registered twice")
        XCTAssertEqual(document["openapi"]?.stringValue, "3.1.0")
    }

    func testEverySchemaReferenceResolves() throws {
        let text = OpenAPIDocument.text
        let document = try JSONValue.parse(text)
        let schemas = Set(document["components"]?["schemas"]?.objectValue?.keys ?? [])
        var cursor = text.startIndex
        var references: [String] = []
        while let range = text.range(of: "#/components/schemas/", range: cursor..<text.endIndex) {
            let name = text[range.upperBound...].prefix { $0 != "\"" }
            references.append(String(name))
            cursor = range.upperBound
        }
        XCTAssertFalse(references.isEmpty)
        XCTAssertEqual(Set(references).subtracting(schemas).sorted(), [])
    }
}
