import DstackProvider

/// `dstack aws configure` asks for the seed's four lines, in order; the rest are flags.
public enum AWSPlugin: BuiltinProvider {
    public static let plugin = ProviderPlugin(
        vendor: "aws",
        displayName: "AWS",
        fields: [
            // Shown masked at the prompt, as `aws configure` and the seed document show it. Both
            // may stay empty: the server then finds credentials by itself, each time it calls AWS.
            ConfigField(label: "AWS Access Key ID", key: "access_key_id", isSecret: true, isOptional: true,
                        help: "The access key ID; empty: the dstack server's own AWS_ACCESS_KEY_ID, AWS_PROFILE profile or instance role."),
            ConfigField(label: "AWS Secret Access Key", key: "secret_access_key", isSecret: true, isOptional: true,
                        help: "The secret access key of that key ID; empty with it (both or neither)."),
            ConfigField(label: "Region name", key: "region",
                        help: "The AWS region to run instances in, e.g. us-east-1."),
            ConfigField(label: "Artifact S3 bucket", key: "artifact_s3_bucket", isOptional: true,
                        help: "An S3 bucket for workflow artifacts, checked with HeadBucket (see the README's IAM statement for it)."),
            ConfigField(label: "EC2 endpoint URL", key: "endpoint_url", isOptional: true, isPrompted: false,
                        help: "A different EC2 endpoint (an emulator, a VPC endpoint); AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL win over it."),
            ConfigField(label: "S3 endpoint URL", key: "s3_endpoint_url", isOptional: true, isPrompted: false,
                        help: "A different S3 endpoint (an emulator, a VPC endpoint), addressed path-style; AWS_ENDPOINT_URL_S3 and AWS_ENDPOINT_URL win over it."),
            ConfigField(label: "AMI ID", key: "ami_id", isOptional: true, isPrompted: false,
                        help: "The image to launch; default: the latest Ubuntu LTS for the instance's architecture."),
            ConfigField(label: "Maximum spot price", key: "max_price", isOptional: true, isPrompted: false,
                        help: "The most to pay per instance-hour in USD, e.g. 0.10; default: the on-demand price."),
            ConfigField(label: "Runner URL", key: "runner_url", isOptional: true, isPrompted: false,
                        help: "Where instances download dstack-runner from."),
            ConfigField(label: "Ingress rules", key: "ingress_rules", isOptional: true, isPrompted: false,
                        help: "Inbound rules for dstack's security group, e.g. tcp:22:203.0.113.0/24; default: none."),
        ],
        runnerDownloadURL: { settings in settings["runner_url"].flatMap { $0.isEmpty ? nil : $0 } },
        makeArtifactBucket: { settings, context in
            try S3ArtifactBucket.fromSettings(settings, context: context)
        },
        environmentFallbacks: { context in
            // Only what needs no network: the instance role is not asked at every prompt.
            let files = AWSConfigFiles.load(environment: context.environment)
            let chain = CredentialsChain(settings: [:], environment: context.environment, files: files, imds: nil)
            guard let found = chain.staticCredentials() else { return [:] }
            return ["access_key_id": found.accessKeyID, "secret_access_key": found.secretAccessKey]
        },
        configureNotes: [
            "With no keys (Enter at both key prompts), the dstack server finds credentials itself at run time, as the AWS CLI does:",
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, then the AWS_PROFILE (or default) profile, then the EC2 instance role (IMDSv2).",
            "That is the server's environment, not this shell's: a background server started by dstack inherits the environment",
            "of the command that started it; run 'dstack server stop' after changing AWS_* variables for it to see them.",
        ],
        makeProvider: { settings, context in
            try AWSProvider(settings: settings, context: context)
        }
    )
}

/// The IAM policy dstack needs, and no more: it has no RunInstances and no CreateTags.
/// (CreateTags and ModifyInstanceMetadataOptions are used when granted, skipped when not.)
public let awsMinimalIAMPolicy = """
    {
      "Version": "2012-10-17",
      "Statement": [
        {
          "Effect": "Allow",
          "Action": [
            "ec2:Describe*",
            "ec2:RequestSpotInstances",
            "ec2:TerminateInstances",
            "ec2:CancelSpotInstanceRequests",
            "ec2:CreateSecurityGroup",
            "ec2:AuthorizeSecurityGroupIngress",
            "ec2:AuthorizeSecurityGroupEgress"
          ],
          "Resource": "*"
        }
      ]
    }
    """

/// The second statement, for the artifact bucket (`artifact_s3_bucket`): what the server
/// does with it (HeadBucket, the multipart uploads) and what the URLs it presigns for
/// runners and downloads do (PUT, UploadPart, GET), scoped to that bucket alone.
public let awsArtifactBucketActions = ["s3:PutObject", "s3:GetObject", "s3:ListBucket", "s3:AbortMultipartUpload"]

/// That statement as the README shows it, an element of the policy's `Statement` list.
public func awsArtifactBucketPolicyStatement(bucket: String) -> String {
    let actions = awsArtifactBucketActions.map { "        \"\($0)\"" }.joined(separator: ",\n")
    return """
            {
              "Effect": "Allow",
              "Action": [
        \(actions)
              ],
              "Resource": [
                "arn:aws:s3:::\(bucket)",
                "arn:aws:s3:::\(bucket)/*"
              ]
            }
        """
}
