"""Summary statistics shared by the simulator's report and the benchmarks."""

NS_PER_MS = 1_000_000


def stats_ms(values_ns):
    """count / mean / max / min in ms (3 decimals) of durations in ns; None fields when empty."""
    if not values_ns:
        return {"count": 0, "mean": None, "max": None, "min": None}
    return {
        "count": len(values_ns),
        "mean": round(sum(values_ns) / len(values_ns) / NS_PER_MS, 3),
        "max": round(max(values_ns) / NS_PER_MS, 3),
        "min": round(min(values_ns) / NS_PER_MS, 3),
    }
