"""govwatch benchmarks at provincial scale: `python -m bench` (see bench/README.md).

Every measurement runs in a fresh subprocess (bench.worker), so its peak memory is its own; the
orchestrator (bench.run) prepares the data with checker.tools.sample, repeats each measurement, takes
the median and judges it against its target (bench.plan).
"""
