import Foundation
import Testing

@testable import Engine

@Suite struct RoutingTests {
    /// Keys verified with `printf %s ID | md5sum`: first 8 digest bytes read little-endian.
    static let verified: [(id: String, key: UInt64)] = [
        ("asset-1", 1_748_972_776_192_081_061),
        ("asset-2", 7_370_226_728_852_846_044),
        ("asset-4", 13_700_531_608_046_429_826),
        ("asset-6", 235_598_513_830_109_363),
        (
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
            5_737_135_992_986_409_056
        ),
    ]

    @Test(arguments: RoutingTests.verified)
    func md5KeyMatchesTheVerifiedValue(id: String, key: UInt64) throws {
        #expect(try MD5RoutingKey().key(id) == key)
        #expect(try Router.worker(forAssetID: id, workerCount: 4) == Int(key % 4))
    }

    /// Full digests verified with `printf %s ID | md5sum`. (Not spawned from the test:
    /// Foundation.Process can double-close descriptors under concurrency, swiftlang/swift#57827,
    /// which would corrupt the pool tests running alongside.)
    @Test(arguments: [
        ("asset-3", "fcd5e75eb9a46fc51fb8f2321b85b662"),
        ("", "d41d8cd98f00b204e9800998ecf8427e"),
    ])
    func md5DigestMatchesMd5sum(id: String, hex: String) throws {
        let digest = try Array(id.utf8).withUnsafeBytes { try MD5RoutingKey().digest($0) }
        #expect(digest.map { String(format: "%02x", $0) }.joined() == hex)
    }

    /// Buckets for 1...8 workers, computed for the verified keys with the paper's own C++
    /// `JumpConsistentHash` (compiled with g++).
    static let jumpReference: [[Int]] = [
        [0, 0, 0, 0, 0, 0, 0, 0],
        [0, 0, 2, 2, 2, 2, 2, 2],
        [0, 0, 0, 0, 0, 5, 5, 5],
        [0, 1, 2, 2, 2, 2, 2, 7],
        [0, 1, 1, 1, 1, 1, 1, 1],
    ]

    @Test func jumpRoutingMatchesTheReferenceImplementation() throws {
        for (row, (id, key)) in RoutingTests.verified.enumerated() {
            for workers in 1...8 {
                let expected = RoutingTests.jumpReference[row][workers - 1]
                #expect(RoutingScheme.jumpConsistentHash(key: key, buckets: workers) == expected)
                #expect(try Router.worker(forAssetID: id, workerCount: workers, routing: .jump) == expected)
            }
        }
        let manager = try WorkerManager(workerCount: 8, configuration: testConfiguration())
        var router = try Router(channels: manager.inputChannels, routing: .jump)
        #expect(router.worker(forAssetID: "asset-6") == 7)
    }

    @Test func jumpHashIsStableAndMovesFewKeys() {
        var moved = 0
        for seed in 0..<2000 as Range<UInt64> {
            let key = seed &* 0x9E37_79B9_7F4A_7C15
            let four = RoutingScheme.jumpConsistentHash(key: key, buckets: 4)
            let five = RoutingScheme.jumpConsistentHash(key: key, buckets: 5)
            #expect((0..<4).contains(four))
            #expect(five == four || five == 4)
            if five != four { moved += 1 }
            #expect(RoutingScheme.jumpConsistentHash(key: key, buckets: 1) == 0)
        }
        // About 1/5 of the keys move to the new bucket.
        #expect(moved > 300 && moved < 500)
    }

    @Test func assetTableFindsEveryInsertedIdAfterGrowth() {
        var table = AssetTable()
        let ids = (0..<5000).map { "token-\($0 * 7919)" }
        for (index, id) in ids.enumerated() {
            let bytes = Array(id.utf8)
            bytes.withUnsafeBytes { raw in
                #expect(table.lookup(raw, hash: AssetTable.hash(raw)) == nil)
                table.insert(raw, hash: AssetTable.hash(raw), worker: index % 3, assetSlot: UInt32(index / 3 + 1))
            }
        }
        for (index, id) in ids.enumerated() {
            Array(id.utf8).withUnsafeBytes { raw in
                #expect(table.lookup(raw, hash: AssetTable.hash(raw))?.worker == index % 3)
                #expect(table.lookup(raw, hash: AssetTable.hash(raw))?.assetSlot == UInt32(index / 3 + 1))
            }
        }
        #expect(table.count == 5000)
    }
}
