// The `capture` executable: record the Polymarket market channel to tapes, or list markets.
import Capture
import CommandLineSupport
import Foundation

StandardOutput.reserveClosedStandardStreams()
exit(finishStandardOutput(CaptureMain.main(Array(CommandLine.arguments.dropFirst()))))
