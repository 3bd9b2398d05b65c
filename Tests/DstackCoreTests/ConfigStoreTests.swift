import DstackCore
import XCTest

final class ConfigStoreTests: XCTestCase {
    var temp: TempHome!

    override func setUp() { temp = TempHome() }
    override func tearDown() { temp.cleanUp() }

    func testAMissingFileIsAnEmptyConfiguration() throws {
        XCTAssertEqual(try ConfigStore(home: temp.home).load(), Configuration())
    }

    func testSavesAndLoadsTheActiveVendorAndSettings() throws {
        let store = ConfigStore(home: temp.home)
        let configuration = Configuration(activeVendor: "aws", providers: [
            "aws": ["access_key_id": "AKIAEXAMPLE", "region": "eu-west-1"], "local": [:],
        ])
        try store.save(configuration)
        XCTAssertEqual(try store.load(), configuration)
    }

    func testTheFileIs0600AndTheDirectory0700() throws {
        try FileManager.default.createDirectory(at: temp.url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        try ConfigStore(home: temp.home).save(Configuration(activeVendor: "local"))
        XCTAssertEqual(temp.mode(of: temp.home.configFile.path), 0o600)
        XCTAssertEqual(temp.mode(of: temp.url.path), 0o700, "a looser existing directory is tightened")
    }

    func testSavingLeavesNoTemporaryFilesBehind() throws {
        let store = ConfigStore(home: temp.home)
        for vendor in ["aws", "local", "gcp"] { try store.save(Configuration(activeVendor: vendor)) }
        let files = try FileManager.default.contentsOfDirectory(atPath: temp.url.path)
        XCTAssertEqual(files, ["config.json"])
        XCTAssertEqual(try store.load().activeVendor, "gcp")
    }

    func testACorruptFileIsReportedByPathAndNeverOverwritten() throws {
        try temp.home.prepare()
        let garbage = "{ this is not json"
        try garbage.write(to: temp.home.configFile, atomically: false, encoding: .utf8)
        let store = ConfigStore(home: temp.home)
        XCTAssertThrowsError(try store.load()) { error in
            guard case ConfigError.corrupt(let path, _)? = error as? ConfigError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, temp.home.configFile.path)
            XCTAssertTrue(String(describing: error).contains(temp.home.configFile.path))
        }
        XCTAssertEqual(try String(contentsOf: temp.home.configFile, encoding: .utf8), garbage)
    }

    func testWrongShapesAreCorruptWithAReason() throws {
        try temp.home.prepare()
        for (text, fragment) in [("[1]", "not a JSON object"), (#"{"active": 3}"#, "active"),
                                 (#"{"providers": {"aws": {"region": 1}}}"#, "aws.region"),
                                 (#"{"version": 99}"#, "version")] {
            try text.write(to: temp.home.configFile, atomically: false, encoding: .utf8)
            XCTAssertThrowsError(try ConfigStore(home: temp.home).load()) { error in
                XCTAssertTrue(String(describing: error).contains(fragment), "\(error) should mention \(fragment)")
            }
        }
    }

    func testADirectoryInPlaceOfTheFileIsUnreadable() throws {
        try FileManager.default.createDirectory(at: temp.home.configFile, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ConfigStore(home: temp.home).load()) { error in
            guard case ConfigError.unreadable? = error as? ConfigError else { return XCTFail("\(error)") }
        }
    }

    func testAHomeThatIsAFileIsNotWritable() throws {
        try Data("x".utf8).write(to: temp.url)
        XCTAssertThrowsError(try ConfigStore(home: temp.home).save(Configuration())) { error in
            guard case HomeError.notWritable(let path, _)? = error as? HomeError else { return XCTFail("\(error)") }
            XCTAssertEqual(path, temp.url.path)
        }
    }

    func testSecretsAreMaskedLikeTheAWSCLI() {
        XCTAssertEqual(SecretMask.mask("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), "****************EKEY")
        XCTAssertEqual(SecretMask.mask("abc"), "****************")
    }

    func testTheHomeComesFromTheEnvironment() {
        XCTAssertEqual(DstackHome.fromEnvironment(["DSTACK_HOME": "/x/y"]).path, "/x/y")
        XCTAssertEqual(DstackHome.fromEnvironment(["HOME": "/home/u"]).path, "/home/u/.dstack")
    }
}
