// What machine a benchmark ran on, so results are comparable across runs.
import Foundation

/// Cores, CPU model and memory of this machine, read from /proc.
public struct MachineDescription: Codable, Sendable, Equatable {
    public var cores: Int
    public var cpuModel: String
    public var memoryBytes: UInt64
    public var kernel: String

    public static var current: MachineDescription {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("model name") })
            .map { String($0.split(separator: ":", maxSplits: 1).last ?? "").trimmingCharacters(in: .whitespaces) }
            ?? "unknown CPU"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        var memory: UInt64 = 0
        if let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }) {
            let kib = line.split(separator: " ").compactMap { UInt64($0) }.first ?? 0
            memory = kib * 1024
        }
        let kernel =
            (try? String(contentsOfFile: "/proc/sys/kernel/osrelease", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
        return MachineDescription(
            cores: ProcessInfo.processInfo.activeProcessorCount, cpuModel: model, memoryBytes: memory, kernel: kernel)
    }

    /// "machine: 2 cores, AMD EPYC …, 23.5 GiB, Linux 6.1"
    public var line: String {
        String(
            format: "machine: %d cores, %@, %.1f GiB, Linux %@", cores, cpuModel,
            Double(memoryBytes) / 1_073_741_824, kernel)
    }
}
