import Capture
print("capture: not built yet")
