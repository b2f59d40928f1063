// ReplayKit module. See docs/ARCHITECTURE.md.
