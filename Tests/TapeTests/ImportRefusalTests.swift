import Foundation
import TestSupport
import Testing

@testable import Tape

/// Inputs `replay tape import` must refuse, each with a message that says what it is instead
/// and what to do; and the borderline inputs it must still accept.
@Suite struct ImportRefusalTests {
    /// Writes `bytes` into a fresh file of `folder`.
    static func input(_ folder: TemporaryFolder, _ name: String, _ bytes: [UInt8]) throws -> String {
        let path = folder.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func importing(_ path: String, shape: ImportShape? = nil) -> TapeError? {
        do {
            _ = try TapeImporter.importFiles([path], to: path + ".out.ndjson.zst", shape: shape)
            return nil
        } catch {
            return error as? TapeError
        }
    }

    /// Regression: an executable (here its first bytes, as `/bin/ls` starts) was imported as
    /// "raw-frames", one garbage frame per line, into a tape dated 1970.
    @Test func binaryInputIsNotACapture() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "ls", [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x0A])
        let error = Self.importing(path)
        #expect(error == .notACapture(file: path, reason: #"no line is JSON (first bad line 1: "\x7FELF\x02")"#))
        #expect(
            error?.description
                == #"\#(path): not a capture: no line is JSON (first bad line 1: "\x7FELF\x02"); "#
                + "expected one frame per line or recorder records (see docs/TAPE_FORMAT.md)")
        #expect(!FileManager.default.fileExists(atPath: path + ".out.ndjson.zst"))
    }

    /// Forcing the raw-frames shape skips detection but not the check that lines are frames.
    @Test func forcedRawFramesShapeStillRefusesBinaryInput() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "ls", [0x7F, 0x45, 0x4C, 0x46, 0x0A])
        guard case .notACapture = Self.importing(path, shape: .rawFrames) else {
            Issue.record("binary input imported with --shape raw-frames")
            return
        }
    }

    @Test func mostlyNonJSONLinesAreNotACapture() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "log.txt", Array("{}\nfoo\nbar\n".utf8))
        #expect(
            Self.importing(path)
                == .notACapture(
                    file: path, reason: #"only 1 of 3 non-empty lines are JSON (first bad line 2: "foo")"#))
    }

    @Test func onlyKeepalivesAreNotACapture() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "pongs.txt", Array("PONG\n".utf8))
        #expect(Self.importing(path) == .notACapture(file: path, reason: "no line is JSON (only PING/PONG lines)"))
    }

    /// PING/PONG lines are real frames of a raw capture and count towards the JSON majority.
    @Test func keepalivesKeepARawCaptureImportable() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let text = "PONG\n{\"event_type\":\"book\",\"timestamp\":\"1737825347925\"}\nPING\n"
        let path = try Self.input(folder, "frames.txt", Array(text.utf8))
        let output = folder.file("out.ndjson.zst")
        let report = try TapeImporter.importFiles([path], to: output)
        #expect(report.inputs.map(\.shape) == [.rawFrames])
        let (frames, _, _) = try readFrames([output], strict: true)
        #expect(
            frames.map { String(decoding: $0.bytes, as: UTF8.self) } == text.split(separator: "\n").map(String.init))
    }

    /// Regression: "not a PolyTape tape: cannot import: the file is already a PolyTape tape … To
    /// convert a foreign capture run replay tape import …".
    @Test func aPlainTapeIsAlreadyATape() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "tape.ndjson", testHeader().renderLine() + [0x0A])
        let error = Self.importing(path)
        #expect(error == .alreadyATape(file: path, format: "polytape/1"))
        #expect(
            error?.description
                == "\(path) is already a PolyTape tape (polytape/1); nothing to import — replay it directly: "
                + "replay run \(path)")
    }

    /// A compressed tape with a header and a footer only.
    static func emptyCompressedTape(in folder: TemporaryFolder) throws -> String {
        let path = folder.file("tape.ndjson.zst")
        let writer = try TapeWriter(
            options: TapeWriterOptions(destination: .file(path, overwrite: true)), header: testHeader(),
            nowWallNs: 0, nowMonoNs: 0)
        try writer.close()
        return path
    }

    @Test func aCompressedTapeIsAlreadyATape() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.emptyCompressedTape(in: folder)
        #expect(Self.importing(path) == .alreadyATape(file: path, format: "polytape/1"))
    }

    /// Regression: `replay tape import -` fed a zstd tape said "zstd-compressed but not a tape"
    /// (the check read standard input a second time and found it empty); it says, as for a
    /// file, that the input is already a tape.
    @Test func aCompressedTapeOnStandardInputIsAlreadyATape() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.emptyCompressedTape(in: folder)
        let bytes = try #require(FileManager.default.contents(atPath: path))
        let output = folder.file("out.ndjson.zst")
        let (status, _, err) = try runReplay(["tape", "import", "-", "-o", output], stdin: bytes)
        #expect(status == 1)
        #expect(
            err.contains(
                "standard input is already a PolyTape tape (polytape/1); nothing to import — replay it directly: "
                    + "pipe it into replay run -"), "stderr: \(err)")
        #expect(!err.contains("zstd-compressed"), "stderr: \(err)")
        #expect(!FileManager.default.fileExists(atPath: output))
        // The same words as for plain text on standard input.
        let plain = Data(testHeader().renderLine() + [0x0A])
        let (plainStatus, _, plainErr) = try runReplay(["tape", "import", "-", "-o", output], stdin: plain)
        #expect(plainStatus == 1)
        #expect(plainErr.contains("standard input is already a PolyTape tape (polytape/1)"), "stderr: \(plainErr)")
    }

    @Test func compressedNonTapeSaysToDecompressFirst() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        // `printf 'hello\n' | zstd`
        let zstdHello: [UInt8] = [
            0x28, 0xB5, 0x2F, 0xFD, 0x04, 0x58, 0x31, 0x00, 0x00, 0x68, 0x65, 0x6C, 0x6C, 0x6F, 0x0A, 0x53, 0x88, 0xBD,
            0x91,
        ]
        let path = try Self.input(folder, "hello.zst", zstdHello)
        guard case .notACapture(_, let reason) = Self.importing(path) else {
            Issue.record("a compressed non-tape was not refused as such")
            return
        }
        #expect(reason.contains("zstd-compressed but not a tape"))
        #expect(reason.contains("zstd -d"))
    }

    /// Regression: an empty file gave "not a PolyTape tape: cannot import: the file is empty … run
    /// replay tape import".
    @Test(arguments: [[], Array("\n \n".utf8)] as [[UInt8]])
    func anEmptyFileHasNothingToImport(_ bytes: [UInt8]) throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "empty.jsonl", bytes)
        let error = Self.importing(path)
        #expect(error == .nothingToImport(file: path))
        #expect(error?.description == "\(path) is empty: nothing to import")
        #expect(Self.importing(path, shape: .rawFrames) == .nothingToImport(file: path))
    }

    @Test func recorderRecordsWithoutFramesAreNotACapture() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try Self.input(folder, "notes.jsonl", Array(#"{"t":1,"kind":"note"}"#.utf8) + [0x0A])
        guard case .notACapture(_, let reason) = Self.importing(path) else {
            Issue.record("a file without frames was imported")
            return
        }
        #expect(reason.hasPrefix("no frames found (detected shape: t-kind-text"))
        #expect(Self.importing(path)?.description.contains("not a PolyTape tape") == false)
    }

    @Test func theImportCommandExitsOneWithTheRefusal() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let binary = try Self.input(folder, "ls", [0x7F, 0x45, 0x4C, 0x46, 0x0A])
        let output = folder.file("x.ndjson.zst")
        var (status, out, err) = try runReplay(["tape", "import", binary, "-o", output])
        #expect(status == 1)
        #expect(!out.contains("detected raw-frames"))
        #expect(err.contains("\(binary): not a capture: no line is JSON (first bad line 1: "), "stderr: \(err)")
        #expect(!FileManager.default.fileExists(atPath: output))

        let tape = try Self.input(folder, "tape.ndjson", testHeader().renderLine() + [0x0A])
        (status, _, err) = try runReplay(["tape", "import", tape, "-o", output])
        #expect(status == 1)
        #expect(err.contains("replay it directly: replay run \(tape)"), "stderr: \(err)")
        #expect(!err.contains("not a PolyTape tape"))
    }

    /// Regression: a golden or run report given as the tape was answered with a suggestion to
    /// import it as a capture.
    @Test func aGoldenGivenAsTheTapeIsRecognised() throws {
        let golden = Repo.fixture("golden/g3-enrico-2026-09.w1.golden.json").path
        let (status, _, err) = try runReplay(["run", golden, "--workers", "1"])
        #expect(status == 1)
        #expect(err.contains("it is a JSON document (a run report or golden file?)"), "stderr: \(err)")
        #expect(err.contains("`replay run TAPE --golden \(golden)`"), "stderr: \(err)")
        #expect(!err.contains("tape import"), "stderr: \(err)")
    }

    /// Regression: `replay … -` on a non-tape suggested `replay tape import <stdin>`, which cannot
    /// run, then to save it to a file although `tape import` reads standard input; binary data on
    /// standard input was told to "give … - for standard input".
    @Test func standardInputThatIsNotATapeSaysToPipeItIntoImport() throws {
        var (status, _, err) = try runReplay(["tape", "info", "-"], stdin: Data("hello\n".utf8))
        #expect(status == 1)
        #expect(err.contains("<stdin>: not a PolyTape tape"), "stderr: \(err)")
        #expect(err.contains("pipe it into `replay tape import - -o OUT.ndjson.zst`"), "stderr: \(err)")
        #expect(!err.contains("import <stdin>"))
        (status, _, err) = try runReplay(["tape", "info", "-"], stdin: Data([0, 1, 2, 0xFF, 0x0A]))
        #expect(status == 1)
        #expect(err.contains("standard input is not a PolyTape tape: it is a binary file"), "stderr: \(err)")
        #expect(!err.contains("or - for standard input"), "stderr: \(err)")
        #expect(
            TapeError.notATape(file: "x.jsonl", reason: "r").description.contains(
                "run `replay tape import x.jsonl -o OUT.ndjson.zst`"))
    }
}

/// Regression: a UTF-8 byte-order mark stayed on the first line: a raw capture's first frame
/// became malformed and a recorder's `frames.jsonl` was taken for raw frames.
@Suite struct ImportByteOrderMarkTests {
    static let bom: [UInt8] = [0xEF, 0xBB, 0xBF]

    @Test func aRawCaptureWithAByteOrderMarkKeepsItsFirstFrameIntact() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let frame = #"{"event_type":"book","timestamp":"1737825347925"}"#
        let path = try ImportRefusalTests.input(folder, "frames.txt", Self.bom + Array("\(frame)\n".utf8))
        let output = folder.file("out.ndjson.zst")
        let report = try TapeImporter.importFiles([path], to: output)
        #expect(report.inputs.map(\.shape) == [.rawFrames])
        let (frames, _, _) = try readFrames([output], strict: true)
        #expect(frames.map { String(decoding: $0.bytes, as: UTF8.self) } == [frame])
    }

    @Test func aRecorderFileWithAByteOrderMarkIsStillRecognized() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let corpus = try Data(
            contentsOf: Repo.fixture("corpus/g3-nslaughter-2026-10/settled-subscription--mixed.jsonl"))
        let path = try ImportRefusalTests.input(folder, "frames.jsonl", Self.bom + Array(corpus))
        #expect(try TapeImporter.detectShape(Self.bom + Array(corpus)) == .timeKindText)
        let report = try TapeImporter.importFiles([path], to: folder.file("out.ndjson.zst"))
        #expect(report.inputs.map(\.shape) == [.timeKindText])
        #expect(report.frames == 1)
    }

    /// Regression: `--shape single-json` on an NDJSON file imported "1 frames" (the whole file as
    /// one unparseable frame) with exit 0.
    @Test func singleJSONRefusesAFileOfJSONLines() throws {
        let folder = TemporaryFolder()
        defer { folder.remove() }
        let path = try ImportRefusalTests.input(folder, "frames.ndjson", Array("{\"a\":1}\n{\"a\":2}\n".utf8))
        guard case .notACapture(_, let reason)? = ImportRefusalTests.importing(path, shape: .singleJSON) else {
            Issue.record("an NDJSON file was imported as one frame with --shape single-json")
            return
        }
        #expect(reason.contains("holds 2 lines that are each one JSON value (NDJSON)"), "\(reason)")
        // One pretty-printed value is what the shape is for.
        let pretty = try ImportRefusalTests.input(folder, "one.json", Array("{\n  \"a\": 1\n}\n".utf8))
        #expect(ImportRefusalTests.importing(pretty, shape: .singleJSON) == nil)
    }
}
