import DstackProvider
import DstackWire
import Foundation
import Yams

/// `.dstack/workflows.yaml`, read with Yams:
///
/// ```yaml
/// workflows:
///   - name: train
///     commands:
///       - pip install -r requirements.txt
///       - python train.py
///     env:                            # or a list: [EPOCHS=10, MODE=fast]
///       EPOCHS: 10
///     resources:
///       instance_type: m5.xlarge      # or any of:
///       cpu: 4
///       memory: 64GB                  # a bare number is GB
///       gpu: 1                        # or {count: 1, name: V100}
///       disk: 100                     # the root volume, GB
///     artifacts: [checkpoints]        # or: - path: checkpoints (relative, never '..')
///     deps:
///       - workflow: prepare           # or: - run: RUN_ID
/// ```
///
/// Every problem is reported with the file, the line and the reason. A key this dstack
/// does not understand (`image`, `ports`, ...) is refused, never silently dropped: a
/// run without the image or ports its author asked for would fail later, far from
/// the cause.
public struct WorkflowFile: Sendable, Equatable {
    public var workflows: [Workflow]

    public static let defaultPath = ".dstack/workflows.yaml"

    public static func load(path: String) throws -> WorkflowFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw WorkflowFileError(file: path, line: nil, reason: "cannot read the file (does it exist?)")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: path)
    }

    public static func parse(_ text: String, file: String) throws -> WorkflowFile {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw WorkflowFileError(file: file, line: Self.line(of: error), reason: Self.reason(of: error))
        }
        guard let root, let mapping = root.mapping else {
            throw WorkflowFileError(file: file, line: root?.mark.map { $0.line }, reason: "the top level must be a mapping with a 'workflows' list")
        }
        guard let list = mapping["workflows"] else {
            throw WorkflowFileError(file: file, line: root.mark?.line, reason: "there is no 'workflows' list")
        }
        for (keyNode, _) in mapping where keyNode.scalar?.string != "workflows" {
            throw WorkflowFileError(file: file, line: keyNode.mark?.line, reason: Self.notSupported(keyNode))
        }
        guard let items = list.sequence else {
            throw WorkflowFileError(file: file, line: list.mark?.line, reason: "'workflows' must be a list")
        }
        var workflows: [Workflow] = []
        for item in items {
            let workflow = try Self.workflow(item, file: file)
            if workflows.contains(where: { $0.name == workflow.name }) {
                throw WorkflowFileError(file: file, line: item.mark?.line, reason: "workflow '\(workflow.name)' is defined twice")
            }
            workflows.append(workflow)
        }
        return WorkflowFile(workflows: workflows)
    }

    public func workflow(named name: String) -> Workflow? {
        workflows.first { $0.name == name }
    }

    private static func workflow(_ node: Node, file: String) throws -> Workflow {
        func fail(_ at: Node?, _ reason: String) -> WorkflowFileError {
            WorkflowFileError(file: file, line: (at ?? node).mark?.line, reason: reason)
        }
        guard let mapping = node.mapping else { throw fail(node, "each workflow must be a mapping with 'name' and 'commands'") }
        for (keyNode, _) in mapping where !Self.workflowKeys.contains(keyNode.scalar?.string ?? "") {
            throw fail(keyNode, Self.notSupported(keyNode))
        }
        guard let nameNode = mapping["name"], let name = nameNode.scalar?.string, !name.isEmpty else {
            throw fail(node, "a workflow needs a 'name'")
        }
        guard let commandsNode = mapping["commands"] else { throw fail(node, "workflow '\(name)' has no 'commands'") }
        let commands: [String]
        if let scalar = commandsNode.scalar {
            commands = [scalar.string]
        } else if let sequence = commandsNode.sequence {
            commands = try sequence.map { item in
                guard let text = item.scalar?.string else { throw fail(item, "each command of '\(name)' must be a string") }
                return text
            }
        } else {
            throw fail(commandsNode, "'commands' of '\(name)' must be a list of strings")
        }
        guard !commands.isEmpty else { throw fail(commandsNode, "workflow '\(name)' has an empty 'commands' list") }
        let environment = try mapping["env"].map { try Self.environment($0, workflow: name, file: file) } ?? [:]
        var requirements = ResourceRequirements()
        if let resources = mapping["resources"] {
            guard let fields = resources.mapping else { throw fail(resources, "'resources' of '\(name)' must be a mapping") }
            for (keyNode, value) in fields {
                let key = keyNode.scalar?.string ?? ""
                switch key {
                case "instance_type", "instance-type":
                    guard let type = value.scalar?.string, !type.isEmpty else { throw fail(value, "'instance_type' must be a name") }
                    requirements.instanceType = type
                case "cpu", "cpus":
                    guard let cpus = value.scalar.flatMap({ Int($0.string) }), cpus > 0 else {
                        throw fail(value, "'cpu' must be a whole number above 0")
                    }
                    requirements.cpus = cpus
                case "memory":
                    guard let text = value.scalar?.string, let mib = MemorySize.mebibytes(text) else {
                        throw fail(value, "'memory' must be a size such as 16 (GB), 16GB or 512MB")
                    }
                    requirements.memoryMiB = mib
                case "disk":
                    let sizeNode = value.mapping?["size"] ?? value
                    guard let text = sizeNode.scalar?.string, let gb = MemorySize.gigabytes(text) else {
                        throw fail(value, "'disk' must be a size such as 100 (GB), 100GB or 1TB")
                    }
                    requirements.diskGB = gb
                case "gpu", "gpus":
                    let countNode = value.mapping?["count"] ?? value
                    guard let count = countNode.scalar.flatMap({ Int($0.string) }), count >= 0 else {
                        throw fail(value, "'gpu' must be a whole number, or a mapping with 'count'")
                    }
                    requirements.gpus = count
                default:
                    throw fail(keyNode, "'resources: \(key)' is not supported by this dstack; it takes instance_type, cpu, memory, gpu and disk")
                }
            }
            if requirements.instanceType != nil, requirements.cpus != nil || requirements.memoryMiB != nil || requirements.gpus != nil {
                throw fail(resources, "'resources' of '\(name)' gives both an instance_type and cpu/memory/gpu; give one or the other")
            }
        }
        let artifacts = try mapping["artifacts"].map { try Self.artifacts($0, workflow: name, file: file) } ?? []
        let deps = try mapping["deps"].map { try Self.deps($0, workflow: name, file: file) } ?? []
        let retry = try mapping["retry"].map { try RunRetryPolicy.parse($0, workflow: name, fail: { fail($0, $1) }) }
        return Workflow(name: name, commands: commands, environment: environment, requirements: requirements,
                        artifacts: artifacts, deps: deps, retry: retry)
    }

    /// The keys of a workflow this dstack acts on; any other is refused.
    static let workflowKeys: Set<String> = ["name", "commands", "env", "resources", "artifacts", "deps", "retry"]

    static func notSupported(_ keyNode: Node) -> String {
        "'\(keyNode.scalar?.string ?? "?")' is not supported by this dstack"
    }

    /// `env:` as a mapping (`KEY: value`) or a list of `KEY=VALUE` strings.
    private static func environment(_ node: Node, workflow name: String, file: String) throws -> [String: String] {
        func fail(_ at: Node, _ reason: String) -> WorkflowFileError {
            WorkflowFileError(file: file, line: at.mark?.line, reason: reason)
        }
        var environment: [String: String] = [:]
        func add(_ key: String, _ value: String, at: Node) throws {
            if let problem = EnvironmentEntry.problem(name: key, value: value) { throw fail(at, "env: " + problem) }
            guard environment[key] == nil else { throw fail(at, "env: '\(key)' is set twice") }
            environment[key] = value
        }
        if let mapping = node.mapping {
            for (keyNode, valueNode) in mapping {
                guard let key = keyNode.scalar?.string else { throw fail(keyNode, "env: each name must be a string") }
                guard let value = valueNode.scalar, valueNode.tag.description != Tag.Name.null.rawValue else {
                    throw fail(valueNode, "env: '\(key)' needs a value (write \(key): \"\" for an empty one)")
                }
                try add(key, value.string, at: keyNode)
            }
        } else if let sequence = node.sequence {
            for item in sequence {
                guard let entry = item.scalar?.string else { throw fail(item, "env: each entry must be a KEY=VALUE string") }
                switch EnvironmentEntry.parse(entry) {
                case .success(let (key, value)): try add(key, value, at: item)
                case .failure(let error): throw fail(item, "env: \(error)")
                }
            }
        } else if node.tag.description != Tag.Name.null.rawValue { // `env:` with nothing is an empty env
            throw fail(node, "'env' of '\(name)' must be a mapping (KEY: value) or a list of KEY=VALUE strings")
        }
        return environment
    }

    /// `artifacts:` as a list of paths or of `{path: P}` mappings; each path stays inside
    /// the working directory (`ArtifactPath`), and a path given twice is given once.
    private static func artifacts(_ node: Node, workflow name: String, file: String) throws -> [String] {
        func fail(_ at: Node, _ reason: String) -> WorkflowFileError {
            WorkflowFileError(file: file, line: at.mark?.line, reason: reason)
        }
        guard let sequence = node.sequence else {
            throw fail(node, "'artifacts' of '\(name)' must be a list of paths (or of 'path: P' mappings)")
        }
        var paths: [String] = []
        for item in sequence {
            let pathNode: Node
            if let mapping = item.mapping {
                for (keyNode, _) in mapping where keyNode.scalar?.string != "path" {
                    throw fail(keyNode, "artifacts: '\(keyNode.scalar?.string ?? "?")' is not supported by this dstack; an artifact takes only 'path'")
                }
                guard let given = mapping["path"] else { throw fail(item, "artifacts: each mapping needs a 'path'") }
                pathNode = given
            } else {
                pathNode = item
            }
            guard let path = pathNode.scalar?.string, pathNode.tag.description != Tag.Name.null.rawValue else {
                throw fail(pathNode, "artifacts: each path must be a string")
            }
            if let problem = ArtifactPath.problem(path) { throw fail(pathNode, "artifacts: \(problem)") }
            let normalized = ArtifactPath.normalized(path)
            if !paths.contains(normalized) { paths.append(normalized) }
        }
        return paths
    }

    /// `deps:` as a list of `{workflow: NAME}` or `{run: ID}` mappings.
    private static func deps(_ node: Node, workflow name: String, file: String) throws -> [WorkflowDep] {
        func fail(_ at: Node, _ reason: String) -> WorkflowFileError {
            WorkflowFileError(file: file, line: at.mark?.line, reason: reason)
        }
        guard let sequence = node.sequence else {
            throw fail(node, "'deps' of '\(name)' must be a list of 'workflow: NAME' or 'run: ID' mappings")
        }
        var deps: [WorkflowDep] = []
        for item in sequence {
            guard let mapping = item.mapping, mapping.count == 1, let entry = mapping.first else {
                throw fail(item, "deps: each entry must be one 'workflow: NAME' or 'run: ID' mapping")
            }
            let (keyNode, valueNode) = (entry.key, entry.value)
            guard let value = valueNode.scalar?.string, !value.isEmpty, valueNode.tag.description != Tag.Name.null.rawValue else {
                throw fail(valueNode, "deps: '\(keyNode.scalar?.string ?? "?")' needs a name")
            }
            let dep: WorkflowDep
            switch keyNode.scalar?.string {
            case "workflow":
                guard value != name else { throw fail(valueNode, "deps: workflow '\(name)' cannot depend on itself") }
                dep = .workflow(value)
            case "run": dep = .run(value)
            default:
                throw fail(keyNode, "deps: '\(keyNode.scalar?.string ?? "?")' is not supported by this dstack; a dep is 'workflow: NAME' or 'run: ID'")
            }
            if !deps.contains(dep) { deps.append(dep) }
        }
        return deps
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    private static func reason(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            return "invalid YAML: " + [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ", ")
        default:
            return "invalid YAML: \(error)"
        }
    }
}
