import Dispatch
import Foundation
import Synchronization
import Testing

@testable import Engine

/// Hands a ring to another thread (the SPSC protocol makes the shared memory safe; the
/// object's own fields are immutable).
final class SendableRing: @unchecked Sendable {
    let ring: SharedRing
    init(_ ring: SharedRing) { self.ring = ring }
}

@Suite struct SharedRingTests {
    /// A producer thread and a consumer thread that sleeps with NO timeout: a lost wake-up
    /// would hang the consumer, which the watchdog reports. Records carry their sequence number
    /// and varying sizes (many wraps in a 64 KiB ring); the producer pauses at random so the
    /// consumer keeps going to sleep.
    @Test func noLostWakeUpsAndEveryRecordArrivesInOrder() throws {
        let (ring, memfd) = try SharedRing.create(capacity: 1 << 16, name: "polytape-ring-test")
        SystemCalls.close(memfd)
        let dataFD = try SystemCalls.makeEventFD("test")
        let spaceFD = try SystemCalls.makeEventFD("test")
        defer {
            SystemCalls.close(dataFD)
            SystemCalls.close(spaceFD)
        }
        let total = 200_000
        let shared = SendableRing(ring)
        let done = DispatchSemaphore(value: 0)
        let failures = Mutex<[String]>([])
        let consumerThread = Thread {
            var consumer = RingConsumer(ring: shared.ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
            var expected: UInt64 = 0
            while expected < UInt64(total) {
                if consumer.refresh() {
                    while let record = consumer.next() {
                        let length = Int(record.load(as: UInt32.self))
                        let sequence = record.load(fromByteOffset: 8, as: UInt64.self)
                        let last = record.load(fromByteOffset: length - 8, as: UInt64.self)
                        if sequence != expected || last != ~sequence {
                            failures.withLock { $0.append("record \(expected): got \(sequence)/\(~last)") }
                        }
                        expected += 1
                        consumer.advance(length)
                        if expected % 64 == 0 { consumer.release() }
                    }
                    consumer.release()
                } else {
                    consumer.sleep(timeoutMs: -1)
                }
            }
            done.signal()
        }
        consumerThread.start()
        var producer = RingProducer(ring: ring, dataWakeFD: dataFD, spaceWakeFD: spaceFD)
        var random = SeededGenerator(seed: 99)
        for sequence in 0..<UInt64(total) {
            let size = 24 + Int(random.next() % 64) * 8
            let needed = producer.bytesNeeded(size)
            if !producer.hasSpace(needed) {
                let outcome = producer.waitForSpace(needed, deadline: .max, isAlive: { true })
                #expect(outcome == .ready)
            }
            let target = producer.claim(size)
            target.storeBytes(of: UInt32(size), as: UInt32.self)
            target.storeBytes(of: sequence, toByteOffset: 8, as: UInt64.self)
            target.storeBytes(of: ~sequence, toByteOffset: size - 8, as: UInt64.self)
            producer.commit(size)
            if random.next() % 7 == 0 { producer.publish() }
            if random.next() % 5000 == 0 { usleep(200) }  // let the consumer fall asleep
        }
        producer.publish()
        let finished = done.wait(timeout: .now() + 60) == .success
        #expect(finished, "the consumer never saw the last records: a wake-up was lost")
        let collected = failures.withLock { $0 }
        #expect(collected.isEmpty)
    }
}

struct SeededGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
