// Book module. See docs/ARCHITECTURE.md.
