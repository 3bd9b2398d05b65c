import DstackCore
import XCTest

/// The cost model's inputs as state keeps them, on both backends: price history entries,
/// instance lives held against the cloud's list, and the spans runs hold instances.
final class CostStateTests: StateTestCase {
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)
    func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }

    func testPricesLivesAndBusySpansGiveEachRunAndRuleItsShareToTheCent() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.write { tx in
                // The history as the cloud reports it, twice (a second read repeats it) and
                // with an entry that repeats the price in effect: kept once each.
                let history = [SpotPriceRecord(instanceType: "m5.large", zone: "us-east-1a", at: at(hours: -3), microsPerHour: 31_200),
                               SpotPriceRecord(instanceType: "m5.large", zone: "us-east-1a", at: at(hours: 1), microsPerHour: 45_600)]
                try tx.recordSpotPrices(history)
                try tx.recordSpotPrices(history + [SpotPriceRecord(instanceType: "m5.large", zone: "us-east-1a", at: at(hours: 2),
                                                                   microsPerHour: 45_600)])
                XCTAssertEqual(try tx.spotPrices(instanceTypes: ["m5.large"]), history)

                // Listed running at 0:10 (launched at 0:00), a run from 0:30 to 2:00, gone from the list at 3:00.
                let listed = ManagedInstance(id: "i-1", instanceType: "m5.large", state: .running, launchTime: t0,
                                             availabilityZone: "us-east-1a")
                try tx.recordInstanceLives([listed], vendor: "aws", at: at(hours: 1.0 / 6))
                try tx.startRunUsage(runID: "r1", instanceID: "i-1", at: at(hours: 0.5))
                try tx.endRunUsage(instanceID: "i-1", at: at(hours: 2))
                try tx.recordInstanceLives([listed], vendor: "aws", at: at(hours: 2.5))
                try tx.recordInstanceLives([], vendor: "aws", at: at(hours: 3))
                try tx.recordInstanceLives([], vendor: "aws", at: at(hours: 4))
            }
            let lives = try state.read { try $0.instanceLives() }
            XCTAssertEqual(lives.map(\.startedAt), [t0], "the cloud's launch time starts the life")
            XCTAssertEqual(lives.map(\.endedAt), [at(hours: 3)], "the first list without it ends the life")

            let (runs, costs) = try state.read { tx in
                (try CostLedger.runCosts(["r1", "r2"], tx: tx, now: at(hours: 10)), try CostLedger.breakdown(tx, now: at(hours: 10)))
            }
            XCTAssertEqual(runs, ["r1": MicroDollars(decimalText: "0.0612")!], "30 min at 0.0312 + 1 h at 0.0456; r2 never ran")
            XCTAssertEqual(costs.instances["i-1"], MicroDollars(decimalText: "0.1224"))
            XCTAssertEqual(costs.rules["m5.large"], MicroDollars(decimalText: "0.0612"), "booting and idle")
        }
    }

    func testAnInstanceGivenToANewRunOrTakenBackClosesTheSpanItHad() throws {
        try onEachBackend { location in
            let state = try location.open()
            try state.write { tx in
                try tx.startRunUsage(runID: "r1", instanceID: "i-1", at: at(hours: 0))
                try tx.startRunUsage(runID: "r2", instanceID: "i-1", at: at(hours: 1))
                try tx.startRunUsage(runID: "r3", instanceID: "i-2", at: at(hours: 1))
                try tx.recordInstanceLives([ManagedInstance(id: "i-2", instanceType: "t", state: .running, launchTime: t0)],
                                           vendor: "aws", at: at(hours: 1))
                try tx.recordInstanceLives([], vendor: "aws", at: at(hours: 2))
            }
            let spans = try state.read { try $0.runUsage(runIDs: ["r1", "r2", "r3"]) }
                .sorted { $0.runID < $1.runID }.map { "\($0.runID)@\($0.instanceID):\($0.endedAt.map { String(Int($0.timeIntervalSince(t0))) } ?? "open")" }
            XCTAssertEqual(spans, ["r1@i-1:3600", "r2@i-1:open", "r3@i-2:7200"])
        }
    }
}
