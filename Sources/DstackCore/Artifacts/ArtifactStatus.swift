/// What a run's artifacts are, as users see it: `pending` until its attempt uploads,
/// `uploading`, then `complete` or `incomplete` with a reason. A run that ended with
/// no manifest is incomplete, and says why.
public enum ArtifactStatus {
    public static func describe(_ record: RunArtifactsRecord, runStatus: RunStatus) -> (state: String, reason: String?) {
        switch record.state {
        case .complete?: return ("complete", nil)
        case .incomplete?: return ("incomplete", record.reason)
        case .uploading?:
            guard runStatus.isFinished else { return ("uploading", nil) }
            return ("incomplete", "the upload did not finish: the runner stopped before it wrote the manifest")
        case nil:
            guard runStatus.isFinished else { return ("pending", nil) }
            switch runStatus {
            case .stopped: return ("incomplete", "the run was stopped, and a stopped run uploads nothing")
            case .interrupted: return ("incomplete", "the run was interrupted, and an interrupted run uploads nothing")
            default: return ("incomplete", "the run ended before its artifacts were uploaded")
            }
        }
    }
}
