// Steady-state parsing must not grow the heap. This checks retained heap bytes (glibc's
// `malloc_info` report: arena size minus free chunks plus mmapped chunks) around many parses of the same frames: scratch buffers that keep
// regrowing, leaks, or caches that fill per frame all show up as growth. It cannot see an
// allocation that is freed again within the frame (glibc has no in-process malloc counter);
// that stronger claim, zero mallocs per frame, is proven with valgrind in docs/BENCHMARKS.md.
// Growth that comes in geometric steps (a scratch array that keeps doubling) can skip a
// window, so the scratch capacities are checked directly as well.
#if canImport(Glibc)
    @testable import Feed
    import Foundation
    import Glibc
    import Testing
    import TestSupport

    /// A sink that only adds numbers, so the sink itself never allocates.
    private struct SummingSink: FeedSink {
        var units: Int64 = 0
        var events = 0
        mutating func onBook(_ event: BookEvent) {
            events += 1
            for level in event.bids { units &+= level.size.units }
        }
        mutating func onPriceChange(_ event: PriceChangeEvent) {
            events += 1
            units &+= event.price.units
        }
        mutating func onBestBidAsk(_ event: BestBidAskEvent) { events += 1 }
        mutating func onError(_ error: FeedError) { events -= 1_000_000 }
    }

    /// Bytes the process currently holds from malloc, from glibc's `malloc_info` XML. Looked up
    /// with dlsym because the Glibc module does not export <malloc.h>.
    private func heapBytesInUse() -> Int {
        typealias MallocInfo = @convention(c) (Int32, UnsafeMutablePointer<FILE>?) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_info") else { return -1 }
        let mallocInfo = unsafeBitCast(symbol, to: MallocInfo.self)
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var length = 0
        guard let stream = open_memstream(&buffer, &length) else { return -1 }
        _ = mallocInfo(0, stream)
        fclose(stream)
        guard let buffer else { return -1 }
        defer { free(buffer) }
        let report = String(cString: buffer)
        // The process-wide totals follow the last </heap>.
        guard let totals = report.range(of: "</heap>", options: .backwards).map({ report[$0.upperBound...] })
        else { return -1 }
        func size(_ tag: String) -> Int {
            guard let start = totals.range(of: tag) else { return 0 }
            let rest = totals[start.upperBound...]
            guard let open = rest.range(of: "size=\""), let close = rest[open.upperBound...].firstIndex(of: "\"")
            else { return 0 }
            return Int(rest[open.upperBound..<close]) ?? 0
        }
        return size("<system type=\"current\"") + size("<total type=\"mmap\"") - size("<total type=\"fast\"")
            - size("<total type=\"rest\"")
    }

    @Suite("Allocation")
    struct AllocationTests {
        @Test func steadyStateParsingDoesNotGrowTheHeap() throws {
            var frames = try Repo.lines("corpus/g2-aaimek-2025-01/frames.ndjson")
            frames += try CorpusFrames.wrappedFrames("corpus/g3-enrico-2026-09/frames.jsonl", field: "payload")
            var parser = FeedParser()
            var sink = SummingSink()
            func parseAll(times: Int) {
                for _ in 0..<times {
                    for frame in frames { _ = frame.withUnsafeBytes { parser.parse($0, into: &sink) } }
                }
            }
            parseAll(times: 2)  // warm-up: scratch buffers reach their working size
            // Other tests run concurrently and move the process-wide figure both ways, so take
            // the smallest growth of several windows; a per-frame leak grows every window.
            // Scratch buffers must have reached their working size: regrowth is reallocation.
            let scratchCapacity = [parser.bidLevels.capacity, parser.askLevels.capacity, parser.entries.capacity]
            var smallestGrowth = Int.max
            for _ in 0..<5 {
                let before = heapBytesInUse()
                parseAll(times: 5)
                let after = heapBytesInUse()
                smallestGrowth = min(smallestGrowth, after - before)
            }
            #expect(sink.events > 0)
            #expect([parser.bidLevels.capacity, parser.askLevels.capacity, parser.entries.capacity] == scratchCapacity)
            #expect(heapBytesInUse() > 0, "malloc_info report could not be read")
            // 5 × 3,939 frames per window: even 4 retained bytes per frame would be 78 KB.
            #expect(smallestGrowth < 64 * 1024, "heap grew by \(smallestGrowth) bytes in every window")
        }

        /// The probe itself must see retained memory, or the test above proves nothing. Other
        /// tests may free memory during a window, so the largest of three windows counts.
        @Test func heapProbeSeesRetainedMemory() {
            var largestGrowth = Int.min
            for _ in 0..<3 {
                let before = heapBytesInUse()
                let retained = (0..<64).map { _ in [UInt8](repeating: 1, count: 32 * 1024) }
                let after = heapBytesInUse()
                #expect(retained.count == 64)
                largestGrowth = max(largestGrowth, after - before)
            }
            #expect(largestGrowth >= 3 * 512 * 1024, "probe saw at most \(largestGrowth) bytes for 2 MiB retained")
        }
    }
#endif
