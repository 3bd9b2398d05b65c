// swift-tools-version:6.0
import PackageDescription

// The built-in cloud providers, in the order the CLI lists them. This is the only list:
// each name is a folder Plugins/<Name> that becomes the module Dstack<Name>, and the
// registry (DstackPlugins) finds `Dstack<Name>.<Name>Plugin` by it at run time.
let providers = ["AWS", "Local", "GCP", "Azure"]

let package = Package(
    name: "dstack",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dstack", targets: ["dstack"]),
        .executable(name: "dstack-server", targets: ["dstack-server"]),
        .executable(name: "dstack-runner", targets: ["dstack-runner"]),
        .library(name: "DstackCore", targets: ["DstackCore"]),
        .library(name: "DstackTesting", targets: ["DstackTesting"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // Already in the graph through Hummingbird; the scale benchmark's HTTP client uses it directly.
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        // GET /metrics in Prometheus's text format (the server's counters, gauges and histograms).
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The Postgres state backend (dstack server --database-url): the wire protocol, a
        // connection pool, LISTEN/NOTIFY. Only DstackState links it.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // Already in the graph through postgres-nio: TLS to Postgres (sslmode, sslrootcert).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.25.0"),
    ],
    targets: [
        // Native libraries, found with pkg-config; `make` installs the apt packages.
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "CCurlShim", dependencies: ["CCurl"]),
        // The server's self-signed certificate, through libcrypto's X.509 calls.
        .target(name: "CTLSShim", dependencies: ["COpenSSL"]),

        // What crosses the wire: HTTP over libcurl, JSON over jansson, the runner API's
        // shapes, hashing and atomic files. The runner links this and nothing below.
        .target(name: "DstackWire", dependencies: ["CCurl", "CCurlShim", "CJansson", "COpenSSL"]),

        // The `/api/v1` API's payloads and its client: what the CLI links to reach the server.
        .target(name: "DstackAPI", dependencies: ["DstackWire"]),

        // The provider model: the CloudProvider seam, its errors and types, plugins and
        // their configure forms. No state, no control plane: plugins and clients link it.
        .target(name: "DstackProvider"),

        // What a run carries: .dstack/workflows.yaml (Yams), its requirements, and the code
        // shipped with it. No state: the CLI reads a project with it.
        .target(name: "DstackProject", dependencies: ["DstackWire", "DstackProvider", "CZlib", .product(name: "Yams", package: "Yams")]),

        // The state: state.db (SQLite, WAL, versioned migrations, transactions) and the API's
        // users. Only the server links it.
        .target(name: "DstackState", dependencies: ["DstackWire", "DstackProvider", "DstackProject", "CSQLite",
                                                   .product(name: "PostgresNIO", package: "postgres-nio"),
                                                   .product(name: "NIOCore", package: "swift-nio"),
                                                   .product(name: "NIOPosix", package: "swift-nio"),
                                                   .product(name: "NIOSSL", package: "swift-nio-ssl"),
                                                   .product(name: "Logging", package: "swift-log")]),

        // The control plane: the planner, the reconciler, the runner API's logic, the
        // runner's bootstrap (re-exports DstackWire, DstackProvider, DstackProject, DstackState).
        .target(
            name: "DstackCore",
            dependencies: [
                "DstackWire", "DstackProvider", "DstackProject", "DstackState",
            ]
        ),

        // The HTTP face of `dstack server`: the runner API over Hummingbird.
        .target(
            name: "DstackServer",
            dependencies: [
                "DstackCore", "DstackAPI", "CTLSShim",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),

        // The registry of the built-in providers: the plugins and their forms, no state.
        // CProviderList hands it `providers` (a C define can carry a string; Swift's cannot).
        .target(name: "CProviderList", cSettings: [.define("DSTACK_PROVIDERS", to: "\"\(providers.joined(separator: " "))\"")]),
        .target(
            name: "DstackPlugins",
            dependencies: ["DstackProvider", "CProviderList"] + providers.map { .target(name: "Dstack\($0)") }
        ),

        // The provider conformance kit, the plugin checks and test helpers (no XCTest
        // dependency, so any test framework can call it).
        .target(name: "DstackTesting", dependencies: ["DstackProvider", "DstackWire"]),

        // What both command-line programs share: argparse-style help, one-line errors, tables.
        .target(name: "DstackCLIKit", dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // The CLI: a client of the server's API. It links neither the state (SQLite) nor the
        // control plane; `dstack server` runs dstack-server, the program next to it.
        .executableTarget(
            name: "dstack",
            dependencies: [
                "DstackAPI", "DstackCLIKit", "DstackProject", "DstackProvider", "DstackPlugins",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The server: the one process that opens the state and calls the cloud.
        .executableTarget(
            name: "dstack-server",
            dependencies: [
                "DstackCLIKit", "DstackCore", "DstackPlugins", "DstackServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The runner daemon's logic, a library so that tests can drive it.
        // It must not link the state or the control plane: it runs on stock cloud images.
        .target(name: "DstackRunnerKit", dependencies: ["DstackWire"]),
        .executableTarget(name: "dstack-runner", dependencies: ["DstackWire", "DstackRunnerKit"]),
        .executableTarget(
            name: "dstack-benchmarks",
            dependencies: [
                "DstackAWS", "DstackCore", "DstackAPI", "DstackTesting",
                .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Sources/dstack-benchmarks"),
        // Opens the state from many processes at once; CLITests drives it.
        .executableTarget(name: "dstack-state-stress", dependencies: ["DstackCore"], path: "Tests/StateStress"),

        .testTarget(name: "DstackCoreTests", dependencies: ["DstackCore", "DstackAPI", "DstackTesting"]),
        .testTarget(name: "LocalTests", dependencies: ["DstackLocal", "DstackCore", "DstackTesting"]),
        .testTarget(name: "StubTests", dependencies: ["DstackGCP", "DstackAzure", "DstackCore", "DstackTesting"]),
        .testTarget(name: "AWSTests", dependencies: ["DstackAWS", "DstackCore", "DstackTesting"]),
        .testTarget(name: "CLITests", dependencies: ["DstackCore", "DstackTesting"]),
        .testTarget(name: "APITests", dependencies: ["DstackServer", "DstackAPI", "DstackCore", "DstackLocal", "DstackTesting",
                                                     .product(name: "Hummingbird", package: "hummingbird")]),
        .testTarget(name: "RunnerTests", dependencies: ["DstackRunnerKit", "DstackCore", "DstackTesting"]),
        // The web page in headless Chromium (Selenium) and /metrics (prometheus_client's parser),
        // against a real server on the local provider.
        .testTarget(name: "WebTests", dependencies: ["DstackTesting", "DstackWire"],
                    exclude: ["parse_metrics.py", "browser_check.py"]),
        // The registry, and each provider's plugin checks (Tests/PluginsTests/<Name>PluginChecks.swift).
        .testTarget(name: "PluginsTests", dependencies: ["DstackPlugins", "DstackTesting"] + providers.map { .target(name: "Dstack\($0)") }),
    ] + providers.map { name in
        // One folder per cloud provider: the provider model, HTTP/JSON and libcrypto, nothing more.
        .target(name: "Dstack\(name)", dependencies: ["DstackProvider", "DstackWire", "COpenSSL"], path: "Plugins/\(name)")
    },
    swiftLanguageModes: [.v6]
)
