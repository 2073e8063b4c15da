"""Summary statistics shared by the simulator's report and the benchmarks."""

import bisect

from host_tools import midiwire

NS_PER_MS = 1_000_000
CV_VOICES = 4


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


def note_to_gate_ms(result):
    """The CV gates' delay: from each rise of gateN to the last note message (on or off) on
    MIDI channel N before it (the default config plays voice N on channel N), in ms. ``result``:
    either engine's (``inputs``: port -> [(ns, byte)], ``signals``: [(ns, name, volts)])."""
    notes = {}
    for timed in result.inputs.values():
        messages, _ = midiwire.decode(timed)
        for m in messages:
            if m.data[0] & 0xE0 == 0x80:
                notes.setdefault(m.data[0] & 0x0F, []).append(m.time_ns)
    edges = {}
    for t, name, volts in result.signals:
        edges.setdefault(name, []).append((t, volts))
    delays = []
    for v in range(CV_VOICES):
        gate = edges.get("gate%d" % (v + 1), [])
        ons = sorted(notes.get(v, []))
        for (t, volts), (_, before) in zip(gate[1:], gate):
            k = bisect.bisect_right(ons, t)  # the notes at or before the rise
            if volts > 0 >= before and k:
                delays.append((t - ons[k - 1]) / NS_PER_MS)
    return delays
