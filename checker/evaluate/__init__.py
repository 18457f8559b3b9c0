"""The evaluate stage: the scan, the durable-rules reference engine, the indicator, cadence and
checklist evaluators; they read the store and the rules and make firings (docs/ARCHITECTURE.md)."""
