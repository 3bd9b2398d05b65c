import DstackProvider
/// What a run needs: an explicit instance type, or minimums the planner matches
/// against the provider's instance-type facts; and, either way, the root disk its
/// instance is launched with.
public struct ResourceRequirements: Sendable, Equatable, Hashable {
    public var instanceType: String?
    public var cpus: Int?
    public var memoryMiB: Int?
    public var gpus: Int?
    /// The root volume, in GB. Not a fact of an instance type: the provider sizes the
    /// disk when it launches, so it never makes a type fit or not.
    public var diskGB: Int?

    public init(instanceType: String? = nil, cpus: Int? = nil, memoryMiB: Int? = nil, gpus: Int? = nil, diskGB: Int? = nil) {
        self.instanceType = instanceType
        self.cpus = cpus
        self.memoryMiB = memoryMiB
        self.gpus = gpus
        self.diskGB = diskGB
    }

    public func isSatisfied(by facts: InstanceTypeFacts) -> Bool {
        if let instanceType { return facts.name == instanceType }
        if let cpus, facts.vcpus < cpus { return false }
        if let memoryMiB, facts.memoryMiB < memoryMiB { return false }
        if let gpus, facts.gpuCount < gpus { return false }
        return true
    }

    /// "64 GB memory", "4 CPUs, 2 GPUs": for the reason a run is waiting. The disk is
    /// left out: it is never why no type fits.
    public var summary: String {
        if let instanceType { return instanceType }
        var parts: [String] = []
        if let cpus { parts.append("\(cpus) CPU\(cpus == 1 ? "" : "s")") }
        if let memoryMiB { parts.append(Self.formatMemory(memoryMiB) + " memory") }
        if let gpus { parts.append("\(gpus) GPU\(gpus == 1 ? "" : "s")") }
        return parts.isEmpty ? "no particular resources" : parts.joined(separator: ", ")
    }

    static func formatMemory(_ mib: Int) -> String {
        mib % 1024 == 0 ? "\(mib / 1024) GB" : "\(mib) MB"
    }
}
