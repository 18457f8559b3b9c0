"""Tools that need the whole library: the sample data generator, the demo, rule tests and rule diffs
(`govwatch demo`, `govwatch rules test|diff`). Nothing in the library imports them."""
