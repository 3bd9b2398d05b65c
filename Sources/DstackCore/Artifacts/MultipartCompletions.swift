import Foundation

/// The multipart completions this server has under way or has finished, by upload ID.
/// Joining a big object's parts takes the bucket a while (minutes on S3 for the largest,
/// tens of seconds on a busy moto), and a runner whose call gave up meanwhile asks again:
/// that second ask waits for the completion already under way rather than starting
/// another (which would make the bucket join the same parts twice, and fail once the
/// first one removed them), and an ask for a completion that finished hears it is done.
actor MultipartCompletions {
    private var underWay: [String: Task<Void, Error>] = [:]
    /// Asks waiting for a completion another ask began, by upload ID (what tests wait for).
    private(set) var joined: [String: Int] = [:]
    /// Finished upload IDs, oldest first; only the latest `remembered` are kept.
    private var finished: [String] = []
    private var finishedSet: Set<String> = []
    private let remembered: Int

    init(remembered: Int = 1000) {
        self.remembered = remembered
    }

    func hasFinished(_ uploadID: String) -> Bool {
        finishedSet.contains(uploadID)
    }

    /// Runs `work` for `uploadID` unless a completion of it is under way, in which case
    /// this waits for that one's outcome. A completion that failed may be tried again.
    func complete(_ uploadID: String, _ work: @escaping @Sendable () async throws -> Void) async throws {
        if finishedSet.contains(uploadID) { return }
        if let running = underWay[uploadID] {
            joined[uploadID, default: 0] += 1
            return try await running.value
        }
        let task = Task { try await work() }
        underWay[uploadID] = task
        defer { underWay[uploadID] = nil }
        try await task.value
        finishedSet.insert(uploadID)
        finished.append(uploadID)
        if finished.count > remembered { finishedSet.remove(finished.removeFirst()) }
    }
}
