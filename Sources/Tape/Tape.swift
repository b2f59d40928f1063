// Tape module. See docs/ARCHITECTURE.md.
