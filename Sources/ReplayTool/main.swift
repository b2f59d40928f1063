import ReplayKit
print("replay: not built yet")
