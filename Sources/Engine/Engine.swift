// Engine module. See docs/ARCHITECTURE.md.
