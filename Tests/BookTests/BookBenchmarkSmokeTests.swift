// The benchmark's own preconditions (every change applied, every generated hash verified) hold
// on a tiny run. No timing is asserted: speed is measured by the benchmark command.
import Book
import Testing

@Suite struct BookBenchmarkSmokeTests {
    @Test func tinyRunProducesEveryLine() {
        let report = BookBenchmark.run(scale: 0.0001)
        #expect(report.contains("BookStore.apply "))
        #expect(report.contains("exchange-hash check on every change"))
        #expect(report.contains("200 levels/side"))
    }
}
