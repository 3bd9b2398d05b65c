import DstackCore
import XCTest

final class ExcessInstancesTests: XCTestCase {
    private func instance(_ id: String, _ type: String = "m5.xlarge", state: InstanceState = .running,
                          launchedSecondsAgo: Double?) -> ManagedInstance {
        ManagedInstance(id: id, instanceType: type, state: state,
                        launchTime: launchedSecondsAgo.map { Date(timeIntervalSinceNow: -$0) })
    }

    func testNothingIsShutDownAtOrBelowTheMax() {
        let instances = [instance("a", launchedSecondsAgo: 10), instance("b", launchedSecondsAgo: 20)]
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 2), [])
    }

    func testTheNewestAreShutDownFirst() {
        let instances = [instance("old", launchedSecondsAgo: 300), instance("new", launchedSecondsAgo: 5),
                         instance("mid", launchedSecondsAgo: 60)]
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 1).map(\.id), ["new", "mid"])
    }

    func testIdleInstancesGoBeforeBusyOnes() {
        let instances = [instance("busy-new", launchedSecondsAgo: 5), instance("idle-old", launchedSecondsAgo: 500),
                         instance("idle-new", launchedSecondsAgo: 50)]
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 1, busy: ["busy-new"]).map(\.id),
                       ["idle-new", "idle-old"])
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 0, busy: ["busy-new"]).map(\.id),
                       ["idle-new", "idle-old", "busy-new"])
    }

    func testAnOpenRequestCountsAsTheNewest() {
        let instances = [instance("running", launchedSecondsAgo: 5), instance("sir-open", state: .pending, launchedSecondsAgo: nil)]
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 1).map(\.id), ["sir-open"])
    }

    func testOtherTypesAndDeadInstancesDoNotCount() {
        let instances = [instance("a", launchedSecondsAgo: 5), instance("b", "c5.large", launchedSecondsAgo: 1),
                         instance("c", state: .terminated, launchedSecondsAgo: 1), instance("d", state: .shuttingDown, launchedSecondsAgo: 1)]
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 1), [])
        XCTAssertEqual(ExcessInstances.toShutDown(instances, instanceType: "m5.xlarge", max: 0).map(\.id), ["a"])
        XCTAssertEqual(ExcessInstances.liveCounts(instances), ["m5.xlarge": 1, "c5.large": 1])
    }

    func testTerminationTargetsCancelTheSpotRequestsToo() {
        let target = TerminationTarget(instances: [
            ManagedInstance(id: "i-1", instanceType: "t", state: .running, spotRequestID: "sir-1"),
            ManagedInstance(id: "sir-2", instanceType: "t", state: .pending, spotRequestID: "sir-2", isUnfulfilledRequest: true),
        ])
        XCTAssertEqual(target, TerminationTarget(instanceIDs: ["i-1"], spotRequestIDs: ["sir-1", "sir-2"]))
    }
}
