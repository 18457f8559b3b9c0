"""SQL of the P1–P9 indicators (DB33/T 2036.7 §5.2–5.3): per-org aggregates rolled up the org tree."""
from __future__ import annotations


class IndicatorStore:
    """Aggregates for checker.indicators."""
