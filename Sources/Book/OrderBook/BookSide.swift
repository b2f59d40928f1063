// One side of a book: sorted contiguous arrays, best level last.
public import Feed

/// The levels of one side of an order book, kept exactly and sorted with the best level LAST, so
/// that the frequent changes near the top move few elements and the storage order is the
/// exchange-hash order (bids ascending, asks descending). Storage is three parallel arrays: a
/// sort key (the price for bids, the negated price for asks, so both ascend), the size in
/// millionths, and one byte with the written form (fraction digits, leading dot) of both the
/// price and the size, so the exchange's exact strings re-render. 17 bytes per level.
public struct BookSide: Sendable {
    public let side: Side
    /// Ascending: price units for bids, −price units for asks.
    var keys: [Int64] = []
    var sizes: [Int64] = []
    /// Low nibble: price written form; high nibble: size written form (see `WrittenForm`).
    var forms: [UInt8] = []

    public init(side: Side) {
        self.side = side
    }

    /// Number of price levels.
    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    @inline(__always)
    func key(forPrice units: Int64) -> Int64 { side == .bid ? units : -units }

    @inline(__always)
    func price(forKey key: Int64) -> Int64 { side == .bid ? key : -key }

    /// The best price in millionths (highest bid, lowest ask), nil when the side is empty.
    public var bestPriceUnits: Int64? {
        guard let last = keys.last else { return nil }
        return price(forKey: last)
    }

    /// The best level with its written strings.
    public var best: PriceLevel? {
        keys.isEmpty ? nil : level(at: keys.count - 1)
    }

    /// The level at storage position `index` (0 = worst).
    public func level(at index: Int) -> PriceLevel {
        let form = forms[index]
        return PriceLevel(
            price: WrittenForm.unpack(units: price(forKey: keys[index]), form: form & 0xF),
            size: WrittenForm.unpack(units: sizes[index], form: form >> 4))
    }

    /// Levels from the best outward, at most `depth` of them.
    public func levels(depth: Int) -> [PriceLevel] {
        let n = Swift.max(0, Swift.min(depth, keys.count))
        var out: [PriceLevel] = []
        out.reserveCapacity(n)
        var index = keys.count - 1
        while out.count < n {
            out.append(level(at: index))
            index -= 1
        }
        return out
    }

    /// Sum of all sizes, in millionths.
    public var totalSizeUnits: Int64 {
        var total: Int64 = 0
        for size in sizes { total &+= size }
        return total
    }

    /// Lower bound of `key` in `keys` (first index whose key ≥ `key`).
    @inline(__always)
    func lowerBound(_ key: Int64) -> Int {
        keys.withUnsafeBufferPointer { buffer in
            // Most traffic is near the top of book, which is the end of the array.
            let n = buffer.count
            if n == 0 || buffer[n - 1] < key { return n }
            var low = 0
            var high = n - 1
            while low < high {
                let middle = (low + high) >> 1
                if buffer[middle] < key { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    /// Sets the level at `price` to `size` (the new total); a zero size removes it. Returns what
    /// happened so the caller can count it.
    @discardableResult
    mutating func set(price: ExactDecimal, size: ExactDecimal) -> LevelChange {
        let key = key(forPrice: price.units)
        let index = lowerBound(key)
        let found = index < keys.count && keys[index] == key
        if size.units == 0 {
            guard found else { return .removedAbsent }
            keys.remove(at: index)
            sizes.remove(at: index)
            forms.remove(at: index)
            return .removed
        }
        let form = WrittenForm.pack(price) | (WrittenForm.pack(size) << 4)
        if found {
            sizes[index] = size.units
            forms[index] = form
            return .updated
        }
        keys.insert(key, at: index)
        sizes.insert(size.units, at: index)
        forms.insert(form, at: index)
        return .inserted
    }

    /// Replaces every level with `levels` (any order; duplicates: the later one wins; zero sizes
    /// are dropped). Real frames are already in storage order, which takes the linear path.
    mutating func replace(with levels: UnsafeBufferPointer<PriceLevel>) {
        keys.removeAll(keepingCapacity: true)
        sizes.removeAll(keepingCapacity: true)
        forms.removeAll(keepingCapacity: true)
        keys.reserveCapacity(levels.count)
        sizes.reserveCapacity(levels.count)
        forms.reserveCapacity(levels.count)
        var previous = Int64.min
        var inOrder = true
        for level in levels {
            let key = key(forPrice: level.price.units)
            if key <= previous || level.size.units <= 0 {
                inOrder = false
                break
            }
            previous = key
            keys.append(key)
            sizes.append(level.size.units)
            forms.append(WrittenForm.pack(level.price) | (WrittenForm.pack(level.size) << 4))
        }
        if inOrder { return }
        keys.removeAll(keepingCapacity: true)
        sizes.removeAll(keepingCapacity: true)
        forms.removeAll(keepingCapacity: true)
        for level in levels { set(price: level.price, size: level.size) }
    }

    /// Heap bytes this side holds (array buffers with their headers and malloc rounding).
    var heapBytes: Int {
        MemoryEstimate.arrayBytes(capacity: keys.capacity, stride: 8)
            + MemoryEstimate.arrayBytes(capacity: sizes.capacity, stride: 8)
            + MemoryEstimate.arrayBytes(capacity: forms.capacity, stride: 1)
    }
}

/// What `BookSide.set` did.
enum LevelChange {
    case inserted
    case updated
    case removed
    /// A zero size for a level the book does not hold.
    case removedAbsent
}

/// Honest heap accounting for Swift arrays and strings on 64-bit Linux (glibc malloc): an array
/// buffer is a 32-byte header plus its elements, a glibc chunk adds 8 bytes and rounds to 16
/// with a 32-byte minimum. Checked against `mallinfo2` in the tests.
enum MemoryEstimate {
    static func mallocChunk(_ requested: Int) -> Int {
        Swift.max(32, (requested + 8 + 15) & ~15)
    }

    static func arrayBytes(capacity: Int, stride: Int) -> Int {
        capacity == 0 ? 0 : mallocChunk(32 + capacity * stride)
    }

    /// A native Swift string longer than 15 UTF-8 bytes lives on the heap (32-byte header + bytes
    /// + NUL); shorter ones are stored inline.
    static func stringBytes(_ string: String) -> Int {
        let count = string.utf8.count
        return count <= 15 ? 0 : mallocChunk(32 + count + 1)
    }
}
