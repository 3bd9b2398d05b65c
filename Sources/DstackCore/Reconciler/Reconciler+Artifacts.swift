import Foundation

extension Reconciler {
    /// Aborts the multipart uploads no runner will complete (a runner that died, a run
    /// that ended or moved to another attempt without writing its manifest): a sweep
    /// each pass, so parts nobody will join stop costing storage in the user's bucket.
    /// One read when there are none.
    func abortAbandonedUploads(report: inout Report) async {
        let (aborted, errors) = await ArtifactService(workspace: workspace).abortOrphanedUploads()
        report.abortedUploads += aborted
        report.errors += errors
    }
}
