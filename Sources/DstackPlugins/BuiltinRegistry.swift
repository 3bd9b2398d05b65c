import DstackAWS
import DstackAzure
import DstackCore
import DstackGCP
import DstackLocal

/// The built-in providers. Adding a provider is a folder under Plugins/ and one line here.
public let builtinRegistry = ProviderRegistry([
    awsPlugin,
    localPlugin,
    gcpPlugin,
    azurePlugin,
])
