// The `capture` executable: record the Polymarket market channel to tapes, or list markets.
import Capture
import Foundation

exit(CaptureMain.main(Array(CommandLine.arguments.dropFirst())))
