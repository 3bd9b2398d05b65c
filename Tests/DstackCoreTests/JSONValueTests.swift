import DstackCore
import XCTest

final class JSONValueTests: XCTestCase {
    func testParsesEveryKindOfValue() throws {
        let value = try JSONValue.parse(#"{"s": "héllo", "i": 42, "d": 1.5, "t": true, "f": false, "n": null, "a": [1, "two"], "o": {"k": "v"}}"#)
        XCTAssertEqual(value["s"], .string("héllo"))
        XCTAssertEqual(value["i"], .int(42))
        XCTAssertEqual(value["d"], .double(1.5))
        XCTAssertEqual(value["t"], .bool(true))
        XCTAssertEqual(value["f"], .bool(false))
        XCTAssertEqual(value["n"], .null)
        XCTAssertEqual(value["a"], .array([.int(1), .string("two")]))
        XCTAssertEqual(value["o"]?["k"], .string("v"))
    }

    func testRoundTripsThroughJanssonKeepingKeyOrder() throws {
        let original: JSONValue = ["zeta": 1, "alpha": ["nested": [true, nil, 2.25]], "mid": "x\"y\n"]
        let text = original.serialized(.compact)
        XCTAssertEqual(text, #"{"zeta":1,"alpha":{"nested":[true,null,2.25]},"mid":"x\"y\n"}"#)
        XCTAssertEqual(try JSONValue.parse(text), original)
        XCTAssertEqual(try JSONValue.parse(original.serialized(.pretty)), original)
    }

    func testSpacedStyleIsOneReadableLine() {
        let value: JSONValue = ["enabled": true, "provider": nil, "rules": [["max": 1]]]
        XCTAssertEqual(value.serialized(.spaced), #"{"enabled": true, "provider": null, "rules": [{"max": 1}]}"#)
    }

    func testStringsWithEmbeddedNULSurvive() throws {
        let value = JSONValue.string("a\u{0}b")
        XCTAssertEqual(try JSONValue.parse(value.serialized()), value)
    }

    func testBadJSONReportsLineAndReason() {
        XCTAssertThrowsError(try JSONValue.parse("{\n  \"a\": 1,\n  \"b\": \n}")) { error in
            guard let parse = error as? JSONParseError else { return XCTFail("wrong error \(error)") }
            XCTAssertEqual(parse.line, 4)
            XCTAssertFalse(parse.reason.isEmpty)
        }
    }

    func testDuplicateKeysAreRejected() {
        XCTAssertThrowsError(try JSONValue.parse(#"{"a": 1, "a": 2}"#))
    }

    func testObjectRemovesKeysAndKeepsOrder() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = nil
        object["a"] = 10
        XCTAssertEqual(object.keys, ["a", "c"])
        XCTAssertEqual(object["a"], .int(10))
    }
}
