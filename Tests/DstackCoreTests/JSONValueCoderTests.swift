import DstackCore
import Foundation
import XCTest

/// `JSONValueEncoder` / `JSONValueDecoder`: Codable over the jansson `JSONValue`.
final class JSONValueCoderTests: XCTestCase {
    enum Tier: String, Codable, CaseIterable { case spot, onDemand = "on-demand" }

    struct Limits: Codable, Equatable {
        var max: Int
        var cpuCount: Int8
    }

    struct Rule: Codable, Equatable {
        var instanceType: String
        var tier: Tier
        var maxPricePerHour: Double?
        var limits: Limits
        var runs: [Limits]
        var labels: [String: String]
        var createdAt: Date
        var enabled: Bool
        var diskGiB: UInt
        var bigCount: Int64
        var ratio: Float
        var extra: JSONValue
    }

    static let sample = Rule(
        instanceType: "m5.xlarge", tier: .onDemand, maxPricePerHour: 0.25,
        limits: Limits(max: 3, cpuCount: 4), runs: [Limits(max: 1, cpuCount: 2)],
        labels: ["teamName": "ml", "a": "b"],
        createdAt: Date(timeIntervalSince1970: 1_795_946_671), enabled: true, diskGiB: 100,
        bigCount: 9_007_199_254_740_993, ratio: 0.5, extra: ["keepMe": [1, "x"]]
    )

    // MARK: - Encoding

    func testEncodesSnakeCaseKeysInDeclarationOrder() throws {
        let value = try JSONValueEncoder().encode(Self.sample)
        XCTAssertEqual(
            value.serialized(),
            #"{"instance_type":"m5.xlarge","tier":"on-demand","max_price_per_hour":0.25,"limits":{"max":3,"cpu_count":4},"#
                + #""runs":[{"max":1,"cpu_count":2}],"labels":{"a":"b","teamName":"ml"},"created_at":"2026-11-29T10:04:31Z","#
                + #""enabled":true,"disk_gi_b":100,"big_count":9007199254740993,"ratio":0.5,"extra":{"keepMe":[1,"x"]}}"#
        )
    }

    func testRoundTripsEveryFieldThroughTheText() throws {
        let text = try JSONValueEncoder().encode(Self.sample).serialized(.pretty)
        XCTAssertEqual(try JSONValueDecoder().decode(Rule.self, from: text), Self.sample)
    }

    func testAsIsKeepsSwiftNames() throws {
        var encoder = JSONValueEncoder()
        encoder.keyStrategy = .asIs
        XCTAssertEqual(try encoder.encode(Limits(max: 1, cpuCount: 2)), ["max": 1, "cpuCount": 2])
        var decoder = JSONValueDecoder()
        decoder.keyStrategy = .asIs
        XCTAssertEqual(try decoder.decode(Limits.self, from: ["max": 1, "cpuCount": 2]), Limits(max: 1, cpuCount: 2))
    }

    func testSnakeCaseFollowsFoundationsRuleForAcronyms() throws {
        struct Names: Codable, Equatable {
            var instanceID: String
            var myURLValue: String
            var ipv4Address: String
            var plain: String
        }
        let names = Names(instanceID: "i", myURLValue: "u", ipv4Address: "a", plain: "p")
        let value = try JSONValueEncoder().encode(names)
        XCTAssertEqual(value.objectValue?.keys, ["instance_id", "my_url_value", "ipv4_address", "plain"])
        XCTAssertEqual(try JSONValueDecoder().decode(Names.self, from: value), names)
    }

    func testExplicitCodingKeysGoThroughTheSameConversion() throws {
        struct Renamed: Codable, Equatable {
            var id: String
            var runnerURL: String
            enum CodingKeys: String, CodingKey {
                case id = "instanceID"
                case runnerURL = "runner_url"
            }
        }
        let value = try JSONValueEncoder().encode(Renamed(id: "i-1", runnerURL: "http://x"))
        XCTAssertEqual(value.serialized(), #"{"instance_id":"i-1","runner_url":"http://x"}"#)
        XCTAssertEqual(try JSONValueDecoder().decode(Renamed.self, from: value), Renamed(id: "i-1", runnerURL: "http://x"))
    }

    func testNilOptionalPropertiesAreLeftOut() throws {
        struct Maybe: Codable, Equatable { var name: String?; var count: Int? }
        XCTAssertEqual(try JSONValueEncoder().encode(Maybe(name: nil, count: 2)).serialized(), #"{"count":2}"#)
    }

    func testArraysOfOptionalsKeepTheirNulls() throws {
        let values: [Int?] = [1, nil, 3]
        let encoded = try JSONValueEncoder().encode(values)
        XCTAssertEqual(encoded, [1, nil, 3])
        XCTAssertEqual(try JSONValueDecoder().decode([Int?].self, from: encoded), values)
    }

    func testDictionaryKeysAreDataAndNeverConverted() throws {
        let env = ["AWS_REGION": "eu-west-1", "myVar": "1"]
        let encoded = try JSONValueEncoder().encode(["envVars": env])
        XCTAssertEqual(encoded.serialized(), #"{"envVars":{"AWS_REGION":"eu-west-1","myVar":"1"}}"#)
        XCTAssertEqual(try JSONValueDecoder().decode([String: [String: String]].self, from: encoded), ["envVars": env])
    }

    func testNestedContainersAndSuperEncoders() throws {
        class Base: Codable {
            var baseName = "base"
            init() {}
        }
        final class Derived: Base {
            var level = 2
            enum Keys: String, CodingKey { case level, detail, items }
            enum DetailKeys: String, CodingKey { case innerValue }
            override init() { super.init() }
            required init(from decoder: any Decoder) throws {
                let container = try decoder.container(keyedBy: Keys.self)
                level = try container.nestedContainer(keyedBy: DetailKeys.self, forKey: .detail).decode(Int.self, forKey: .innerValue)
                try super.init(from: container.superDecoder())
            }
            override func encode(to encoder: any Encoder) throws {
                var container = encoder.container(keyedBy: Keys.self)
                var detail = container.nestedContainer(keyedBy: DetailKeys.self, forKey: .detail)
                try detail.encode(level, forKey: .innerValue)
                var items = container.nestedUnkeyedContainer(forKey: .items)
                try items.encode("first")
                var nested = items.nestedUnkeyedContainer()
                try nested.encode(true)
                try super.encode(to: container.superEncoder())
            }
        }
        let derived = Derived()
        derived.level = 7
        derived.baseName = "changed"
        let value = try JSONValueEncoder().encode(derived)
        XCTAssertEqual(value.serialized(), #"{"detail":{"inner_value":7},"items":["first",[true]],"super":{"base_name":"changed"}}"#)
        let decoded = try JSONValueDecoder().decode(Derived.self, from: value)
        XCTAssertEqual(decoded.level, 7)
        XCTAssertEqual(decoded.baseName, "changed")
    }

    func testJSONValuePropertiesPassThroughUntouched() throws {
        struct Envelope: Codable, Equatable { var rawBody: JSONValue }
        let body: JSONValue = ["camelCase": [nil, 1.5, ["deepKey": false]]]
        let encoded = try JSONValueEncoder().encode(Envelope(rawBody: body))
        XCTAssertEqual(encoded, ["raw_body": body])
        XCTAssertEqual(try JSONValueDecoder().decode(Envelope.self, from: encoded), Envelope(rawBody: body))
    }

    func testAllKeysNamesThePropertiesPresentOnTheWire() throws {
        struct Present: Decodable {
            var names: [String]
            enum Keys: String, CodingKey { case instanceType, maxCount, absent }
            init(from decoder: any Decoder) throws {
                names = try decoder.container(keyedBy: Keys.self).allKeys.map(\.stringValue)
            }
        }
        let present = try JSONValueDecoder().decode(Present.self, from: ["max_count": 1, "unknown_key": 2, "instance_type": "x"])
        XCTAssertEqual(present.names, ["maxCount", "instanceType"])
    }

    func testJSONValueIsCodableThroughOtherCodersToo() throws {
        let value: JSONValue = ["a": [1, 2.5, "x", true, nil], "b": ["c": "d"]]
        let data = try JSONEncoder().encode(value)
        XCTAssertEqual(try JSONDecoder().decode(JSONValue.self, from: data), value)
    }

    func testNonFiniteNumbersCannotBeEncoded() {
        XCTAssertThrowsError(try JSONValueEncoder().encode([Double.nan]))
        XCTAssertThrowsError(try JSONValueEncoder().encode([UInt64.max]))
    }

    // MARK: - Dates

    func testDatesAreISO8601UTCWithMillisecondsOnlyWhenThereAreAny() throws {
        let whole = Date(timeIntervalSince1970: 1_795_946_671)
        let fractional = Date(timeIntervalSince1970: 1_795_946_671.123)
        XCTAssertEqual(try JSONValueEncoder().encode([whole, fractional]), ["2026-11-29T10:04:31Z", "2026-11-29T10:04:31.123Z"])
        XCTAssertEqual(try JSONValueEncoder().encode([Date(timeIntervalSince1970: 0)]), ["1970-01-01T00:00:00Z"])
        XCTAssertEqual(try JSONValueEncoder().encode([Date(timeIntervalSince1970: 951_782_400)]), ["2000-02-29T00:00:00Z"])
        let decoded = try JSONValueDecoder().decode([Date].self, from: ["2026-11-29T10:04:31Z", "2026-11-29T10:04:31.123Z"])
        XCTAssertEqual(decoded[0], whole)
        XCTAssertEqual(decoded[1].timeIntervalSince1970, fractional.timeIntervalSince1970, accuracy: 0.0005)
    }

    func testDatesDecodeFromThatFormOnly() {
        for text in ["2026-11-29 10:04:31Z", "2026-11-29T10:04:31+00:00", "2026-11-29T10:04:31", "2026-02-30T10:04:31Z",
                     "2026-11-29T24:00:00Z", "2026-11-29T10:04:31.12Z", "yesterday"] {
            XCTAssertEqual(
                decodingError(["at": .string(text)], as: [String: Date].self),
                "at: expected an ISO 8601 UTC time like 2026-11-29T10:04:31Z, got \(JSONValue.string(text).serialized())",
                text
            )
        }
        XCTAssertEqual(decodingError(["at": 1_795_946_671], as: [String: Date].self),
                       "at: expected an ISO 8601 UTC time like 2026-11-29T10:04:31Z, got 1795946671")
    }

    // MARK: - Strict decoding: one sentence naming the key path

    struct Plan: Codable, Equatable { var instanceType: String; var runs: [Limits] }

    func testAMissingKeyIsNamed() {
        XCTAssertEqual(decodingError(["runs": []], as: Plan.self), "instance_type: missing")
        XCTAssertEqual(decodingError(["instance_type": "m5", "runs": [["max": 1]]], as: Plan.self), "runs[0].cpu_count: missing")
    }

    func testAWrongTypeNamesThePathAndTheValue() {
        let runs: JSONValue = [["max": 1, "cpu_count": 1], ["max": 1, "cpu_count": 1], ["max": "abc", "cpu_count": 1]]
        XCTAssertEqual(decodingError(["instance_type": "m5", "runs": runs], as: Plan.self), #"runs[2].max: expected a whole number, got "abc""#)
        XCTAssertEqual(decodingError(["instance_type": 5, "runs": []], as: Plan.self), "instance_type: expected a string, got 5")
        XCTAssertEqual(decodingError(["instance_type": "m5", "runs": ["x": 1]], as: Plan.self), "runs: expected an array, got an object")
        XCTAssertEqual(decodingError(["instance_type": "m5", "runs": [1]], as: Plan.self), "runs[0]: expected an object, got 1")
        XCTAssertEqual(decodingError([1, 2], as: Plan.self), "expected an object, got an array")
        XCTAssertEqual(decodingError(["on": "yes"], as: [String: Bool].self), #"on: expected true or false, got "yes""#)
        XCTAssertEqual(decodingError(["price": "1"], as: [String: Double].self), #"price: expected a number, got "1""#)
        XCTAssertEqual(decodingError(["instance_type": nil, "runs": []], as: Plan.self), "instance_type: expected a string, got null")
    }

    func testIntegersMustBeWholeAndInRange() throws {
        XCTAssertEqual(decodingError(["max": 1.5, "cpu_count": 1], as: Limits.self), "max: expected a whole number, got 1.5")
        XCTAssertEqual(decodingError(["max": 1, "cpu_count": 300], as: Limits.self),
                       "cpu_count: expected a whole number from -128 to 127, got 300")
        XCTAssertEqual(decodingError(["size": -1], as: [String: UInt].self),
                       "size: expected a whole number from 0 to \(UInt.max), got -1")
        XCTAssertEqual(try JSONValueDecoder().decode(Limits.self, from: ["max": 2.0, "cpu_count": 1]), Limits(max: 2, cpuCount: 1))
    }

    func testAnUnknownEnumValueListsTheAcceptedOnes() {
        XCTAssertEqual(decodingError(["tier": "reserved"], as: [String: Tier].self),
                       #"tier: expected one of "spot", "on-demand", got "reserved""#)
    }

    func testOptionalsReadNullAndAbsenceAsNilButStillCheckTheirType() throws {
        struct Maybe: Codable, Equatable { var name: String?; var count: Int? }
        XCTAssertEqual(try JSONValueDecoder().decode(Maybe.self, from: ["name": nil]), Maybe(name: nil, count: nil))
        XCTAssertEqual(decodingError(["count": "2"], as: Maybe.self), #"count: expected a whole number, got "2""#)
    }

    func testUnknownKeysAreIgnored() throws {
        XCTAssertEqual(try JSONValueDecoder().decode(Limits.self, from: ["max": 1, "cpu_count": 2, "future_field": [1]]),
                       Limits(max: 1, cpuCount: 2))
    }

    func testAStrictDecoderRefusesAnUnknownKeyAndNamesIt() throws {
        var strict = JSONValueDecoder()
        strict.rejectsUnknownKeys = true
        let plan: JSONValue = ["instance_type": "m5", "runs": [["max": 1, "cpu_count": 2, "maxx": 3]]]
        XCTAssertThrowsError(try strict.decode(Plan.self, from: plan)) { error in
            XCTAssertEqual((error as? JSONDecodingError)?.description, "runs[0].maxx: not a known field")
        }
        // Dictionary keys are data, and null optionals are known keys.
        struct Maybe: Codable, Equatable { var name: String?; var labels: [String: String] }
        XCTAssertEqual(try strict.decode(Maybe.self, from: ["name": nil, "labels": ["any_key": "v"]]),
                       Maybe(name: nil, labels: ["any_key": "v"]))
    }

    func testTextThatIsNotJSONIsADecodingErrorToo() {
        XCTAssertThrowsError(try JSONValueDecoder().decode(Limits.self, from: "{not json")) { error in
            XCTAssertTrue(error is JSONDecodingError)
            XCTAssertTrue("\(error)".hasPrefix("not valid JSON (line 1"), "\(error)")
        }
    }

    func testTooFewArrayItemsForATupleLikeType() {
        struct Pair: Decodable {
            init(from decoder: any Decoder) throws {
                var items = try decoder.unkeyedContainer()
                _ = try items.decode(Int.self)
                _ = try items.decode(Int.self)
            }
        }
        XCTAssertEqual(decodingError(["pair": [1]], as: [String: Pair].self), "pair: expected more than 1 items")
    }

    private func decodingError<T: Decodable>(_ value: JSONValue, as type: T.Type) -> String? {
        do {
            _ = try JSONValueDecoder().decode(T.self, from: value)
            return nil
        } catch let error as JSONDecodingError {
            return error.description
        } catch {
            return "not a JSONDecodingError: \(error)"
        }
    }
}
