@testable import DstackAWS
import DstackCore
import XCTest

/// Query-string SigV4, checked step by step on AWS's published example: the GET of
/// "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)" in the
/// S3 documentation (AKIAIOSFODNN7EXAMPLE, examplebucket, test.txt, 20130524T000000Z,
/// valid for 86400 s).
final class SigV4PresignerTests: XCTestCase {
    let exampleCredentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE",
                                            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    let exampleDate = Date(timeIntervalSince1970: 1_369_353_600) // 2013-05-24T00:00:00Z
    let exampleSignature = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

    func testTheDocumentedGETExampleStepByStep() {
        let scope = SigV4Signer.credentialScope(day: "20130524", region: "us-east-1", service: "s3")
        let parameters = SigV4Signer.presignParameters(accessKeyID: exampleCredentials.accessKeyID, scope: scope,
                                                       amzDate: "20130524T000000Z", expiresIn: 86400,
                                                       signedHeaders: "host", sessionToken: nil)
        let query = SigV4Signer.encodedQuery(parameters)
        XCTAssertEqual(query, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host")

        let canonical = SigV4Signer.presignCanonicalRequest(method: "GET", path: "/test.txt", rawQuery: query,
                                                            host: "examplebucket.s3.amazonaws.com")
        XCTAssertEqual(canonical, """
            GET
            /test.txt
            X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host
            host:examplebucket.s3.amazonaws.com

            host
            UNSIGNED-PAYLOAD
            """)

        let toSign = SigV4Signer.stringToSign(amzDate: "20130524T000000Z", scope: scope, canonicalRequest: canonical)
        XCTAssertEqual(toSign, """
            AWS4-HMAC-SHA256
            20130524T000000Z
            20130524/us-east-1/s3/aws4_request
            3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04
            """)

        let key = SigV4Signer.signingKey(secret: exampleCredentials.secretAccessKey, day: "20130524", region: "us-east-1", service: "s3")
        XCTAssertEqual(SigV4Signer.signature(signingKey: key, stringToSign: toSign), exampleSignature)
    }

    func testTheDocumentedGETExampleInOneCall() throws {
        let signer = SigV4Signer(region: "us-east-1", service: "s3")
        let url = try signer.presign(method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt",
                                     credentials: exampleCredentials, at: exampleDate, expiresIn: 86400)
        XCTAssertEqual(url, "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=\(exampleSignature)")
    }

    func testAURLsOwnQueryIsKeptAndSigned() throws {
        // UploadPart: partNumber and uploadId are part of what is signed, so a holder cannot change them.
        let signer = SigV4Signer(region: "us-east-1", service: "s3")
        let url = try signer.presign(method: "PUT", url: "https://examplebucket.s3.amazonaws.com/big?partNumber=2&uploadId=abc",
                                     credentials: exampleCredentials, at: exampleDate, expiresIn: 600)
        XCTAssertTrue(url.hasPrefix("https://examplebucket.s3.amazonaws.com/big?partNumber=2&uploadId=abc&X-Amz-Algorithm="), url)
        let other = try signer.presign(method: "PUT", url: "https://examplebucket.s3.amazonaws.com/big?partNumber=3&uploadId=abc",
                                       credentials: exampleCredentials, at: exampleDate, expiresIn: 600)
        XCTAssertNotEqual(url.components(separatedBy: "X-Amz-Signature=").last, other.components(separatedBy: "X-Amz-Signature=").last)
    }

    func testTemporaryCredentialsCarryTheirTokenInTheSignedQuery() throws {
        var credentials = exampleCredentials
        credentials.sessionToken = "token/with+symbols"
        let url = try SigV4Signer(region: "us-east-1", service: "s3").presign(
            method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt", credentials: credentials,
            at: exampleDate, expiresIn: 60)
        XCTAssertTrue(url.contains("&X-Amz-Security-Token=token%2Fwith%2Bsymbols&X-Amz-SignedHeaders=host&"), url)
        XCTAssertFalse(url.contains(credentials.secretAccessKey), "the secret never goes into a URL")
    }

    func testALifetimeOutsideOneSecondToSevenDaysIsRefused() {
        let signer = SigV4Signer(region: "us-east-1", service: "s3")
        for seconds in [0, -1, 604_801] {
            XCTAssertThrowsError(try signer.presign(method: "GET", url: "https://b.s3.amazonaws.com/k", credentials: exampleCredentials,
                                                    at: exampleDate, expiresIn: seconds), "\(seconds) s")
        }
    }
}
