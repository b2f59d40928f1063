import Foundation
import Testing
import TestSupport
@testable import Verify

@Test func fixturesAreInTheRepository() {
    #expect(FileManager.default.fileExists(atPath: Repo.corpus.appendingPathComponent("README.md").path))
}
