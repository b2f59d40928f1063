// Verify module. See docs/ARCHITECTURE.md.
