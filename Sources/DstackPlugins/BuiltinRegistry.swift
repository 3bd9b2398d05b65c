import DstackAWS
import DstackAzure
import DstackCore
import DstackGCP
import DstackLocal

/// The built-in providers. Adding a provider is a folder under Plugins/, and two lines
/// here: its import and its plugin in the list (CONTRIBUTING.md has the steps).
public let builtinRegistry = ProviderRegistry([
    awsPlugin,
    localPlugin,
    gcpPlugin,
    azurePlugin,
])
