import DstackCore
import XCTest

/// The cost model as a pure calculation: spot prices over an instance's life, piecewise,
/// busy time to runs and the rest to rules, in exact micro-dollars.
final class CostModelTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_795_000_000)
    func at(hours: Double) -> Date { t0.addingTimeInterval(hours * 3600) }
    func dollars(_ text: String) -> MicroDollars { MicroDollars(decimalText: text)! }

    /// $0.0312/h until t0+1h, then $0.0456/h.
    var schedule: PriceSchedule {
        PriceSchedule([.init(at: at(hours: -5), perHour: dollars("0.0312")), .init(at: at(hours: 1), perHour: dollars("0.0456"))])!
    }

    func testAPriceChangeInsideTheLifeCountsEachPriceForItsPart() {
        // 1 h at 0.0312 + 2.5 h at 0.0456 = 0.0312 + 0.114 = 0.1452
        XCTAssertEqual(schedule.cost(from: t0, to: at(hours: 3.5)), dollars("0.1452"))
        // Entirely after the change, and entirely before it.
        XCTAssertEqual(schedule.cost(from: at(hours: 2), to: at(hours: 4)), dollars("0.0912"))
        XCTAssertEqual(schedule.cost(from: at(hours: -2), to: at(hours: -1)), dollars("0.0312"))
        // Before the first entry known, the first price holds.
        XCTAssertEqual(schedule.cost(from: at(hours: -7), to: at(hours: -6)), dollars("0.0312"))
        XCTAssertEqual(schedule.cost(from: at(hours: 3), to: at(hours: 3)), .zero)
        XCTAssertEqual(schedule.cost(from: at(hours: 3), to: at(hours: 2)), .zero, "a span ending before it starts costs nothing")
    }

    func testSeveralChangesAndSecondsRoundOnceToTheMicroDollar() {
        let busy = PriceSchedule([.init(at: at(hours: 0), perHour: dollars("0.1")), .init(at: at(hours: 0.5), perHour: dollars("0.2")),
                                  .init(at: at(hours: 0.75), perHour: dollars("0.05"))])!
        // 30 min at 0.1 + 15 min at 0.2 + 45 min at 0.05 = 0.05 + 0.05 + 0.0375
        XCTAssertEqual(busy.cost(from: t0, to: at(hours: 1.5)), dollars("0.1375"))
        // 1 second at $0.10/h is 27.78 micro-dollars: rounded once, to 28.
        XCTAssertEqual(busy.cost(from: t0, to: t0.addingTimeInterval(1)).micros, 28)
    }

    func testAnUnknownPriceIsNotZero() {
        XCTAssertNil(PriceSchedule([]))
        let costs = CostModel.breakdown(lives: [InstanceLife(id: "local-1", instanceType: "local", zone: nil, start: t0, end: nil),
                                                InstanceLife(id: "i-9", instanceType: "m5.large", zone: "us-east-1z", start: t0, end: nil)],
                                        busy: [BusySpan(runID: "r1", instanceID: "local-1", start: t0, end: nil)],
                                        prices: [.init(instanceType: "m5.large", zone: "us-east-1a"): schedule], now: at(hours: 2))
        XCTAssertEqual(costs.unpriced, ["local-1", "i-9"], "no zone, or a zone never priced")
        XCTAssertEqual(costs.instances, [:])
        XCTAssertNil(costs.runs["r1"], "a run only on unpriced instances has no cost, not $0")
        XCTAssertNil(costs.rules["local"])
    }

    func testBusyTimeGoesToTheRunAndBootAndIdleTimeToTheRule() {
        let key = CostModel.PriceKey(instanceType: "m5.large", zone: "us-east-1a")
        // Launched at t0, booted for 30 min, r1 from 0:30 to 2:00, idle until terminated at 3:00.
        let life = InstanceLife(id: "i-1", instanceType: "m5.large", zone: "us-east-1a", start: t0, end: at(hours: 3))
        let costs = CostModel.breakdown(lives: [life], busy: [BusySpan(runID: "r1", instanceID: "i-1", start: at(hours: 0.5), end: at(hours: 2))],
                                        prices: [key: schedule], now: at(hours: 10))
        XCTAssertEqual(costs.instances["i-1"], dollars("0.1224"), "1 h at 0.0312 + 2 h at 0.0456")
        XCTAssertEqual(costs.runs["r1"], dollars("0.0612"), "30 min at 0.0312 + 1 h at 0.0456")
        XCTAssertEqual(costs.rules["m5.large"], dollars("0.0612"), "30 min booting at 0.0312 + 1 h idle at 0.0456")
        XCTAssertEqual(costs.total, dollars("0.1224"))
    }

    func testARunRequeuedAfterAnInterruptionSumsItsAttempts() {
        let key = CostModel.PriceKey(instanceType: "m5.large", zone: "us-east-1a")
        let other = CostModel.PriceKey(instanceType: "m5.large", zone: "us-east-1b")
        let flat = PriceSchedule([.init(at: t0, perHour: dollars("0.5"))])!
        let lives = [InstanceLife(id: "i-1", instanceType: "m5.large", zone: "us-east-1a", start: t0, end: at(hours: 2)),
                     InstanceLife(id: "i-2", instanceType: "m5.large", zone: "us-east-1b", start: at(hours: 2), end: nil)]
        // The first attempt's span was never closed (the instance vanished): it ends with the life.
        let busy = [BusySpan(runID: "r1", instanceID: "i-1", start: at(hours: 1), end: nil),
                    BusySpan(runID: "r1", instanceID: "i-2", start: at(hours: 2.5), end: nil)]
        let costs = CostModel.breakdown(lives: lives, busy: busy, prices: [key: schedule, other: flat], now: at(hours: 3.5))
        // i-1: 1 h at 0.0456 (1:00-2:00); i-2: 1 h at 0.5 (2:30-3:30).
        XCTAssertEqual(costs.runs["r1"], dollars("0.5456"))
        // i-1 booting 0:00-1:00 at 0.0312; i-2 booting 2:00-2:30 at 0.5.
        XCTAssertEqual(costs.rules["m5.large"], dollars("0.2812"))
    }

    func testAWindowCountsOnlyTheTimeInsideIt() {
        let key = CostModel.PriceKey(instanceType: "m5.large", zone: "us-east-1a")
        let life = InstanceLife(id: "i-1", instanceType: "m5.large", zone: "us-east-1a", start: at(hours: -2), end: nil)
        let window = DateInterval(start: t0, end: at(hours: 2))
        let costs = CostModel.breakdown(lives: [life], busy: [BusySpan(runID: "r1", instanceID: "i-1", start: at(hours: -1), end: at(hours: 1.5))],
                                        prices: [key: schedule], window: window, now: at(hours: 2))
        XCTAssertEqual(costs.instances["i-1"], dollars("0.0768"), "0:00-1:00 at 0.0312 + 1:00-2:00 at 0.0456")
        XCTAssertEqual(costs.runs["r1"], dollars("0.0540"), "0:00-1:00 at 0.0312 + 1:00-1:30 at 0.0456")
        XCTAssertEqual(costs.rules["m5.large"], dollars("0.0228"))
    }

    func testTodayStartsAtMidnightUTC() {
        let now = Date(timeIntervalSince1970: 1_795_944_723) // 2026-11-29T09:32:03Z
        XCTAssertEqual(CostModel.today(now), DateInterval(start: Date(timeIntervalSince1970: 1_795_910_400), end: now))
        XCTAssertEqual(CostModel.last30Days(now).duration, 30 * 86_400)
    }

    func testMoneyIsPrintedExactlyOnTheWireAndToFourPlacesInTables() {
        XCTAssertEqual(MicroDollars(micros: 12_345).decimalText, "0.012345")
        XCTAssertEqual(MicroDollars(micros: 12_345).displayText, "$0.0123")
        XCTAssertEqual(MicroDollars(micros: 12_350).displayText, "$0.0124", "half a ten-thousandth rounds up")
        XCTAssertEqual(MicroDollars(micros: 1_234_567_890).decimalText, "1234.567890")
        XCTAssertEqual(MicroDollars.zero.displayText, "$0.0000")
        XCTAssertEqual(MicroDollars(dollars: 0.0312).micros, 31_200)
        XCTAssertEqual(MicroDollars(decimalText: "0.0123"), MicroDollars(micros: 12_300))
        XCTAssertEqual(MicroDollars(decimalText: "12"), MicroDollars(micros: 12_000_000))
        for bad in ["", ".5", "1.", "1.2345678", "0x10", "1e3", "abc", "1.2.3"] {
            XCTAssertNil(MicroDollars(decimalText: bad), bad)
        }
    }
}
