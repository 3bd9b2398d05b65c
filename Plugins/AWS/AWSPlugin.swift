import DstackProvider

/// `dstack aws configure` asks for the seed's four lines, in order; the rest are flags.
public enum AWSPlugin: BuiltinProvider {
    public static let plugin = ProviderPlugin(
        vendor: "aws",
        displayName: "AWS",
        fields: [
            // Shown masked at the prompt, as `aws configure` and the seed document show it.
            ConfigField(label: "AWS Access Key ID", key: "access_key_id", isSecret: true,
                        help: "The access key ID (else AWS_ACCESS_KEY_ID, the profile, or the instance role)."),
            ConfigField(label: "AWS Secret Access Key", key: "secret_access_key", isSecret: true,
                        help: "The secret access key that goes with the access key ID."),
            ConfigField(label: "Region name", key: "region",
                        help: "The AWS region to run instances in, e.g. us-east-1."),
            ConfigField(label: "Artifact S3 bucket", key: "artifact_s3_bucket", isOptional: true,
                        help: "An S3 bucket for workflow artifacts."),
            ConfigField(label: "EC2 endpoint URL", key: "endpoint_url", isOptional: true, isPrompted: false,
                        help: "A different EC2 endpoint (an emulator, a VPC endpoint); AWS_ENDPOINT_URL_EC2 and AWS_ENDPOINT_URL win over it."),
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
