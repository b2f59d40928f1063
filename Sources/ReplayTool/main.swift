// `replay`: stream tapes through the router and worker processes, and the tape tools.
// Thin: picks the subcommand and maps its outcome to an exit status.
import CommandLineSupport
import Engine
import Foundation
import ReplayKit

let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == WorkerProcess.modeArgument {
    exit(WorkerProcess.main(arguments: Array(arguments.dropFirst())))
}
StandardOutput.reserveClosedStandardStreams()
exit(finishStandardOutput(ReplayMain.main(arguments)))
