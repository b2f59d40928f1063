// `replay serve`: parse the options, load the tape, print the URL, serve until SIGINT/SIGTERM.
public import CommandLineSupport
import Dispatch
import Foundation
import Glibc

/// `replay serve TAPE --port P ...`
public enum ServeCommand: Subcommand {
    public static let name = "serve"
    public static let summary = "play a tape as a local mock of the Polymarket market channel (websocket)"
    public static let usage =
        "replay serve TAPE [--port P] [--host H] [--speed max|1x|Nx] [--loop] [--shared-clock] [--json] [options]"
    public static let help = """
        replay serve — play a tape to websocket clients as Polymarket's market channel would

        Usage: \(usage)

        Listens on ws://HOST:PORT/ws/market (wss:// with --tls-cert/--tls-key). The first line on
        standard output is the URL to connect to; logs go to standard error. Clients subscribe as
        on the real channel ({"assets_ids":[...],"type":"market","initial_dump":true}); each gets
        one JSON array of `book` messages for its assets (the books at its tape position), then
        the tape's frames for its assets: frames entirely for them byte-exact, mixed frames cut
        down to their events and price_change entries. Text PING is answered with PONG; a PING
        (or anything else) before a subscription is closed with 1008. {"operation":"subscribe"|
        "unsubscribe","assets_ids":[...]} changes the subscription (subscribe sends the new books).

        Each client plays the tape from its start (its own position) unless --shared-clock.

        Options:
          --port P              port to listen on (default 0: a free port, see the URL line)
          --host H              address to bind (default 127.0.0.1)
          --speed S             max, 1x (recorded pace, default), or Nx (e.g. 10x, 0.5x)
          --loop                start the tape over at its end
          --shared-clock        one clock for all clients, started with the server
          --tls-cert FILE       PEM certificate chain (with --tls-key: serve wss://)
          --tls-key FILE        PEM private key
          --idle-close SECONDS  close the TCP connection (no close frame) after SECONDS without
                                client traffic, 0.001 to 86400 (the exchange does this after ~125 s)
          --drop-at N           drop each connection abruptly right after the Nth data frame
                                sent to it (the initial dump counts as one; PONGs do not)
          --max-assets N        refuse a subscription over N assets (close 1008 with a reason)
          --no-pong             do not answer PING (to test a client's dead-connection detection)
          --max-clients N       refuse clients beyond N open connections (close 1013)
          --client-buffer N     frames queued per client before it is a slow consumer and is
                                disconnected (default 4096; at --speed max without
                                --shared-clock the tape waits for the client instead)
          --send-buffer BYTES   SO_SNDBUF of each client socket (smaller: slow clients found sooner)
          --json                log lines as JSON objects
          -h, --help            show this help

        Examples:
          replay serve Fixtures/tapes/g3-enrico-2026-09.ndjson.zst --port 8765
          replay serve tape.ndjson.zst --port 0 --speed 10x --loop
          replay serve tape.ndjson.zst --speed max --drop-at 50 --json 2>serve.log
          capture record --url ws://127.0.0.1:8765/ws/market ...   (record from the mock)

        Exit status: 0 stopped by SIGINT/SIGTERM, 1 tape unreadable or port unavailable,
        64 usage error.
        """

    /// `--idle-close` seconds, 1 ms to 1 day.
    public static let idleCloseRange: ClosedRange<Double> = 0.001...86_400

    static let valueOptions: Set<String> = [
        "port", "host", "speed", "tls-cert", "tls-key", "idle-close", "drop-at", "max-assets", "max-clients",
        "client-buffer", "send-buffer",
    ]
    static let flagOptions: Set<String> = ["loop", "shared-clock", "no-pong", "json", "help"]

    /// Parses the command line into the tape paths and the server options.
    public static func parse(_ words: [String]) throws -> (paths: [String], options: ServeOptions, json: Bool) {
        let arguments = try Arguments(words, options: valueOptions, flags: flagOptions)
        guard !arguments.positionals.isEmpty else { throw UsageError("name a tape to serve") }
        var options = ServeOptions()
        options.port = UInt16(try arguments.int("port", default: 0, range: 0...65535))
        if let host = arguments.value("host") { options.host = host }
        if let text = arguments.value("speed") {
            guard let speed = ServeSpeed(text) else {
                throw UsageError("--speed must be \(ReplaySpeed.usageText), not '\(text)'")
            }
            options.speed = speed
        }
        options.loop = arguments.flag("loop")
        options.sharedClock = arguments.flag("shared-clock")
        options.answerPings = !arguments.flag("no-pong")
        switch (arguments.value("tls-cert"), arguments.value("tls-key")) {
        case (nil, nil): break
        case (let cert?, let key?):
            options.tlsCertificateFile = cert
            options.tlsKeyFile = key
        default: throw UsageError("--tls-cert and --tls-key go together")
        }
        if let seconds = try arguments.seconds("idle-close", range: idleCloseRange) {
            options.idleClose = saturatingDuration(seconds: seconds)
        }
        if arguments.value("drop-at") != nil {
            options.dropAfterFrames = try arguments.int("drop-at", default: 1, range: 1...Int(Int32.max))
        }
        if arguments.value("max-assets") != nil {
            options.maxAssets = try arguments.int("max-assets", default: 1, range: 1...1_000_000)
        }
        if arguments.value("max-clients") != nil {
            options.maxClients = try arguments.int("max-clients", default: 1, range: 1...100_000)
        }
        options.clientBufferFrames = try arguments.int("client-buffer", default: 4096, range: 1...10_000_000)
        if arguments.value("send-buffer") != nil {
            options.socketSendBufferBytes = try arguments.int("send-buffer", default: 0, range: 1024...(1 << 30))
        }
        return (arguments.positionals, options, arguments.flag("json"))
    }

    public static func run(_ words: [String]) throws -> Int32 {
        let (paths, options, json) = try parse(words)
        // Block the signals before any thread starts (threads inherit the mask) and wait for
        // them below, so shutdown runs on this thread, not in a signal handler.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        defer { pthread_sigmask(SIG_UNBLOCK, &signals, nil) }
        for path in paths where path != "-" && !FileManager.default.fileExists(atPath: path) {
            throw CommandError(
                "no tape at '\(path)': check the path (a .ndjson.zst/.ndjson file or a folder of segments)")
        }
        let tape: ServeTape
        do {
            tape = try ServeTape(paths: paths)
        } catch {
            throw CommandError("cannot read tape \(paths.joined(separator: " ")): \(error)")
        }
        let log: @Sendable (ServeEvent) -> Void = { event in
            printError(json ? event.jsonLine() : "replay serve: \(event)")
        }
        // The same damage warnings as `replay run` and `tape info`, before serving what was readable.
        for line in TapeCommand.damageLines(tape.readReport) {
            if json {
                log(ServeEvent(kind: .warning, message: String(line.dropFirst("warning: ".count))))
            } else {
                printError(line)
            }
        }
        let server: ReplayServer
        do {
            server = try ReplayServer(tape: tape, options: options, onEvent: log)
        } catch {
            throw CommandError("cannot listen on \(options.host):\(options.port): \(error)")
        }
        try StandardOutput.write(Data((server.url + "\n").utf8))
        server.start()
        var received: Int32 = 0
        while sigwait(&signals, &received) != 0 {}
        log(ServeEvent(kind: .stopped, message: "signal \(received == SIGINT ? "SIGINT" : "SIGTERM"): stopping"))
        server.stop()
        return ExitStatus.success
    }
}
