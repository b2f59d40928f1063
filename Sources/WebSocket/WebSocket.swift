// WebSocket module. See docs/ARCHITECTURE.md.
