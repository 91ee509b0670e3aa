import Foundation
import GlanceReport
import Testing

@Suite struct AdvisorTests {
    @Test("4K bidirectional inference: fastest first, interpolated predictions, Transformer-XL excluded as causal only")
    func bidirectional() throws {
        let (ranking, excluded) = Advisor(results: syntheticResults()).advise(.init(length: 4096, workload: Workload(causal: false, backward: false)))
        #expect(ranking.map(\.mechanism) == ["linformer", "performer", "full"])
        let full = try #require(ranking.last)
        #expect(abs(full.milliseconds - 4096.0 * 4096 / 1e5) < 1e-6 && !full.isExtrapolated && full.relativeError == 0)
        #expect(excluded.map(\.mechanism) == ["transformer_xl"] && excluded[0].reason.contains("causal"))
    }

    @Test("causal training at 32K in 3 GiB with error ≤ 0.1: exact attention over memory, Linformer not causal, extrapolation flagged")
    func causalTrainingWithLimits() throws {
        let request = Advisor.Request(length: 32768, workload: Workload(causal: true, backward: true), memoryLimit: 3 << 30, maximumError: 0.1)
        let (ranking, excluded) = Advisor(results: syntheticResults()).advise(request)
        #expect(ranking.map(\.mechanism) == ["performer"])
        let performer = try #require(ranking.first)
        #expect(performer.isExtrapolated && performer.notes.contains { $0.contains("extrapolated beyond 8,192") })
        #expect(abs(performer.milliseconds - 3 * 32768 / 50) < 1e-6)
        let reasons = Dictionary(uniqueKeysWithValues: excluded.map { ($0.mechanism, $0.reason) })
        #expect(reasons["full"]?.contains("over memory") == true && reasons["full"]?.contains("extrapolated") == true)
        #expect(reasons["transformer_xl"]?.contains("over memory") == true)
        #expect(reasons["linformer"]?.contains("does not support causal") == true)
    }

    @Test("an error limit excludes a mechanism whose default setting's error is above it")
    func errorLimit() {
        let request = Advisor.Request(length: 2048, workload: Workload(causal: false, backward: false), maximumError: 0.1)
        let (ranking, excluded) = Advisor(results: syntheticResults()).advise(request)
        #expect(ranking.map(\.mechanism) == ["performer", "full"])
        #expect(excluded.contains { $0.mechanism == "linformer" && $0.reason.contains("error 0.3 above the limit 0.1") })
    }

    @Test("a mechanism never measured for the workload, and a memory stop of the suite, are reasons")
    func neverMeasuredAndStopped() {
        var results = syntheticResults()
        let workload = Workload(causal: false, backward: true)
        results.measurements.removeAll { $0.mechanism == "performer" && $0.workload == workload }
        results.stops.append(SuiteStop(implementation: .glance, mechanism: "full", workload: workload, length: 16384, kind: .memory, reason: "estimated peak 9 GiB > limit 8 GiB"))
        let (ranking, excluded) = Advisor(results: results).advise(.init(length: 16384, workload: workload))
        #expect(ranking.map(\.mechanism) == ["linformer"])
        #expect(excluded.contains { $0.mechanism == "performer" && $0.reason.contains("never measured") })
        #expect(excluded.contains { $0.mechanism == "full" && $0.reason.contains("over memory at 16,384") })
    }
}
