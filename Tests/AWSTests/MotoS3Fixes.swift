import Foundation

/// Two gaps of moto's S3 under IAM enforcement, closed the way AWS behaves, so the
/// artifact tests can hold users to exactly the README's bucket statement:
/// 1. moto asks a HeadBucket for `s3:HeadBucket`, an action IAM does not have; AWS asks
///    for `s3:ListBucket` (S3 API reference, HeadBucket: "Permissions").
/// 2. moto answers 500 to a presigned request while enforcing (it reads the missing
///    `Authorization` header). AWS authenticates the query-string signature and
///    authorizes the signer's policy for the action; here botocore's
///    `S3SigV4QueryAuth` checks the signature against the signer's key, the expiry is
///    checked, then moto's own policy evaluation runs for the signer.
///
/// Loaded into `moto_server` as a `sitecustomize` module through PYTHONPATH
/// (`MotoServer(environment: MotoS3Fixes.environment())`).
enum MotoS3Fixes {
    static let module = #"""
        import datetime, urllib.parse as up
        import moto.s3.responses as s3responses
        from moto.core import authorization
        from moto.iam import access_control as ac
        from moto import settings
        from botocore.auth import S3SigV4QueryAuth
        from botocore.awsrequest import AWSRequest
        from moto.utilities.utils import get_partition

        s3responses.ACTION_MAP["BUCKET"]["HEAD"]["DEFAULT"] = "ListBucket"

        original = authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action

        def presigned(self, iam_request_cls, resource="*"):
            enforcing = authorization.ActionAuthenticatorMixin.request_count >= settings.INITIAL_NO_AUTH_ACTION_COUNT
            if not enforcing or "Authorization" in self.headers or "X-Amz-Signature=" not in self.uri:
                return original(self, iam_request_cls, resource)
            url = up.urlsplit(self.uri)
            query = up.parse_qsl(url.query, keep_blank_values=True)
            fields = dict(query)
            key_id, day, region, service = fields["X-Amz-Credential"].split("/")[:4]
            key = ac.create_access_key(account_id=self.current_account, partition=get_partition(region),
                                       access_key_id=key_id, headers={"X-Amz-Security-Token": fields.get("X-Amz-Security-Token", "")}
                                       if "X-Amz-Security-Token" in fields else {})
            rest = up.urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"], quote_via=up.quote, safe="")
            host = self.headers["Host"]
            request = AWSRequest(method=self.method, url=up.urlunsplit(("http", host, url.path, rest, "")), headers={"host": host})
            request.context["timestamp"] = fields["X-Amz-Date"]
            auth = S3SigV4QueryAuth(key.create_credentials(), service, region, expires=int(fields["X-Amz-Expires"]))
            if auth.signature(auth.string_to_sign(request, auth.canonical_request(request)), request) != fields["X-Amz-Signature"]:
                raise ac.S3SignatureDoesNotMatchError()
            signed = datetime.datetime.strptime(fields["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
            if datetime.datetime.utcnow() > signed + datetime.timedelta(seconds=int(fields["X-Amz-Expires"])):
                raise ac.S3AccessDeniedError()
            verdicts = [ac.IAMPolicy(p).is_action_permitted("s3:" + self._get_action(), resource) for p in key.collect_policies()]
            if ac.PermissionResult.DENIED in verdicts or ac.PermissionResult.PERMITTED not in verdicts:
                raise ac.S3AccessDeniedError()

        authorization.ActionAuthenticatorMixin._authenticate_and_authorize_action = presigned
        """#

    /// PYTHONPATH for moto_server, pointing at a fresh directory holding the module.
    static func environment() throws -> [String: String] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("moto-s3-fixes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try module.write(to: directory.appendingPathComponent("sitecustomize.py"), atomically: true, encoding: .utf8)
        return ["PYTHONPATH": directory.path]
    }
}
