@testable import DstackAWS
import DstackCore
import XCTest

/// AWS's published SigV4 examples, checked step by step:
/// - the worked example of the SigV4 documentation (IAM `ListUsers`, GET, 20150830T123600Z);
/// - aws-sig-v4-test-suite: `get-vanilla`, `get-vanilla-query-order-key-case`,
///   `post-x-www-form-urlencoded` (credentials AKIDEXAMPLE / wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY,
///   20150830T123600Z, us-east-1, service "service").
final class SigV4SignerTests: XCTestCase {
    let suiteCredentials = AWSCredentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    let suiteDate = Date(timeIntervalSince1970: 1_440_938_160) // 2015-08-30T12:36:00Z
    let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func testTimestampsAreUTCInAWSFormat() {
        let (amzDate, day) = SigV4Signer.timestamps(suiteDate)
        XCTAssertEqual(amzDate, "20150830T123600Z")
        XCTAssertEqual(day, "20150830")
    }

    func testDocumentationWorkedExampleIAMListUsers() {
        let headers = [HTTPHeader("Content-Type", "application/x-www-form-urlencoded; charset=utf-8"),
                       HTTPHeader("Host", "iam.amazonaws.com"), HTTPHeader("X-Amz-Date", "20150830T123600Z")]
        let creq = SigV4Signer.canonicalRequest(method: "GET", path: "/", rawQuery: "Action=ListUsers&Version=2010-05-08",
                                                headers: headers, payloadHash: emptyHash)
        XCTAssertEqual(creq, """
            GET
            /
            Action=ListUsers&Version=2010-05-08
            content-type:application/x-www-form-urlencoded; charset=utf-8
            host:iam.amazonaws.com
            x-amz-date:20150830T123600Z

            content-type;host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        let scope = SigV4Signer.credentialScope(day: "20150830", region: "us-east-1", service: "iam")
        let sts = SigV4Signer.stringToSign(amzDate: "20150830T123600Z", scope: scope, canonicalRequest: creq)
        XCTAssertEqual(sts, """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/iam/aws4_request
            f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59
            """)
        let key = SigV4Signer.signingKey(secret: suiteCredentials.secretAccessKey, day: "20150830", region: "us-east-1", service: "iam")
        XCTAssertEqual(Crypto.hex(key), "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9")
        XCTAssertEqual(SigV4Signer.signature(signingKey: key, stringToSign: sts),
                       "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")

        // The whole request, signed in one go, carries the same signature.
        let signer = SigV4Signer(region: "us-east-1", service: "iam")
        let signed = signer.sign(HTTPRequest(method: "GET", url: "https://iam.amazonaws.com/?Action=ListUsers&Version=2010-05-08",
                                             headers: [headers[0]]),
                                 credentials: suiteCredentials, at: suiteDate)
        XCTAssertEqual(signed.headers.first { $0.name == "Authorization" }?.value,
                       "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7")
    }

    func testSuiteGetVanilla() {
        assertSuiteVector(method: "GET", url: "https://example.amazonaws.com/", headers: [], body: "",
                          creq: "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
                          stsHash: "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
                          authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    func testSuiteGetVanillaQueryOrderKeyCase() {
        assertSuiteVector(method: "GET", url: "https://example.amazonaws.com/?Param2=value2&Param1=value1", headers: [], body: "",
                          creq: "GET\n/\nParam1=value1&Param2=value2\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n\(emptyHash)",
                          stsHash: "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
                          authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    func testSuitePostXWWWFormURLEncoded() {
        assertSuiteVector(method: "POST", url: "https://example.amazonaws.com/",
                          headers: [HTTPHeader("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1",
                          creq: "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\ncontent-type;host;x-amz-date\n9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
                          stsHash: "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
                          authorization: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a")
    }

    private func assertSuiteVector(method: String, url: String, headers: [HTTPHeader], body: String,
                                   creq: String, stsHash: String, authorization: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        let parts = SigV4Signer.splitURL(url)
        let allHeaders = headers + [HTTPHeader("Host", parts.host), HTTPHeader("X-Amz-Date", "20150830T123600Z")]
        let payloadHash = Crypto.hex(Crypto.sha256(body))
        let canonical = SigV4Signer.canonicalRequest(method: method, path: parts.path, rawQuery: parts.query,
                                                     headers: allHeaders, payloadHash: payloadHash)
        XCTAssertEqual(canonical, creq, "canonical request", file: file, line: line)
        let scope = SigV4Signer.credentialScope(day: "20150830", region: "us-east-1", service: "service")
        let sts = SigV4Signer.stringToSign(amzDate: "20150830T123600Z", scope: scope, canonicalRequest: canonical)
        XCTAssertEqual(sts, "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n\(stsHash)",
                       "string to sign", file: file, line: line)

        let signer = SigV4Signer(region: "us-east-1", service: "service")
        let signed = signer.sign(HTTPRequest(method: method, url: url, headers: headers, body: body),
                                 credentials: suiteCredentials, at: suiteDate)
        XCTAssertEqual(signed.headers.first { $0.name == "Authorization" }?.value, authorization, file: file, line: line)
        XCTAssertEqual(signed.headers.first { $0.name == "X-Amz-Date" }?.value, "20150830T123600Z", file: file, line: line)
    }

    func testSessionTokenIsSentAndSigned() {
        let signer = SigV4Signer(region: "us-east-1", service: "ec2")
        var credentials = suiteCredentials
        credentials.sessionToken = "token-value"
        let signed = signer.sign(HTTPRequest(method: "POST", url: "https://ec2.us-east-1.amazonaws.com/", body: "Action=X"),
                                 credentials: credentials, at: suiteDate)
        XCTAssertEqual(signed.headers.first { $0.name == "X-Amz-Security-Token" }?.value, "token-value")
        XCTAssertTrue(signed.headers.first { $0.name == "Authorization" }!.value.contains("SignedHeaders=host;x-amz-date;x-amz-security-token,"))
    }

    func testSigningKeyIsCachedPerDayRegionAndService() {
        let signer = SigV4Signer(region: "us-east-1", service: "ec2")
        let request = HTTPRequest(method: "POST", url: "http://127.0.0.1:5000/", body: "Action=X")
        _ = signer.sign(request, credentials: suiteCredentials, at: suiteDate)
        _ = signer.sign(request, credentials: suiteCredentials, at: suiteDate.addingTimeInterval(3600))
        XCTAssertEqual(signer.keyCache.count, 1, "same day: one key")
        _ = signer.sign(request, credentials: suiteCredentials, at: suiteDate.addingTimeInterval(86_400))
        XCTAssertEqual(signer.keyCache.count, 2, "next day: a new key")
    }

    func testHostKeepsANonDefaultPortAndDropsADefaultOne() {
        XCTAssertEqual(SigV4Signer.splitURL("http://127.0.0.1:5000/").host, "127.0.0.1:5000")
        XCTAssertEqual(SigV4Signer.splitURL("https://ec2.us-east-1.amazonaws.com:443/").host, "ec2.us-east-1.amazonaws.com")
        XCTAssertEqual(SigV4Signer.splitURL("http://example.com:80/a?b=c").path, "/a")
        XCTAssertEqual(SigV4Signer.splitURL("http://example.com:80/a?b=c").query, "b=c")
    }

    func testURIEncodingKeepsOnlyUnreservedCharacters() {
        XCTAssertEqual(SigV4Signer.uriEncode("a b+c/d~e_f.g-h"), "a%20b%2Bc%2Fd~e_f.g-h")
        XCTAssertEqual(SigV4Signer.uriEncode("/a b", keepSlash: true), "/a%20b")
        XCTAssertEqual(SigV4Signer.uriEncode("é"), "%C3%A9")
    }

    func testBase64MatchesFoundation() {
        for text in ["", "a", "ab", "abc", "#!/bin/sh\necho dstack\n", String(repeating: "xyz", count: 100)] {
            XCTAssertEqual(Crypto.base64(text), Data(text.utf8).base64EncodedString())
        }
    }
}
