"""govwatch checker: the library that decides (see docs/ARCHITECTURE.md)."""
