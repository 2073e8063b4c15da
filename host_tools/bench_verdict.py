"""``make bench``'s last lines: a verdict a musician can read. Does the box keep up with four
DIN inputs all sending at full rate (31250 baud, no gap between bytes), and with what margin?
Measured on the board engine (CircuitPython 10.3 on an emulated RP2040, docs/board-engine.md),
not estimated.

The session: each of ``in1``..``in4`` sends a continuous stream on its own channel (notes with
running status, mod wheel, pitch bend) for ``STREAM_MS``; the config routes ``inN`` to ``outN``
(a thru per input: each output can carry what its input brings, so only the box's own speed can
lose anything). It keeps up when every message of every input leaves its output, in order.

The margin: a pass that handles no byte costs ``idle`` cycles (the median pass after the
streams end); while the streams run, the cycles above ``idle`` in each pass are the byte work.
Their share of the CPU time is the load; 1 / load is how many times the traffic the box could
take. The longest pass is set beside what a PIO input's DMA ring holds (``firmware.ports.RX_RING``
bytes: 41 ms of wire), the shortest any input holds (a hardware UART's receive buffer: 82 ms).
"""

import json
import statistics

from host_tools import fwimport

STREAM_MS = 300
BYTE_MS = 0.32  # one DIN byte on the wire
PORTS = ("in1", "in2", "in3", "in4")


def thru_config():
    routes = [{"from": p, "to": "out" + p[2:]} for p in PORTS]
    return json.dumps({"version": 1, "presets": [{"name": "Four thrus", "routes": routes}]})


def stream(channel, count):
    """``count`` bytes of a busy keyboard on ``channel``: notes (the note-off as note-on velocity
    0, under running status), mod wheel, pitch bend."""
    s = bytearray()
    k = 0
    while len(s) < count:
        n = 36 + (k * 7) % 48
        s.extend(bytes((0x90 | channel, n, 0x64, n, 0x00, 0xB0 | channel, 1, k & 0x7F, 0xE0 | channel, k & 0x7F, 0x40)))
        k += 1
    return bytes(s)


def session():
    """{port: [(time_ns, bytes)]}: one line a port at time 1 ms; the wire paces its bytes
    (README, "The simulator": a line's bytes arrive 0.32 ms apart), so each input runs at full
    rate for STREAM_MS."""
    count = int(STREAM_MS / BYTE_MS) // 11 * 11  # whole groups of messages
    return {p: [(1_000_000, stream(k, count))] for k, p in enumerate(PORTS)}


def delivered(want, got):
    """How many of the messages ``want`` appear in ``got`` in their order (a message lost, or
    garbled by a lost byte, does not count)."""
    k = 0
    found = 0
    for message in got:
        while k < len(want) and want[k] != message:
            k += 1
        if k < len(want):
            found += 1
            k += 1
    return found


def judge(result, inputs):
    """The verdict's figures from a board run (a ``BoardResult``) of ``session()``."""
    from host_tools import midiwire
    from host_tools.sim.wires import din_arrival_times

    lost = {}
    sent = 0
    last_arrival = 0
    for k, port in enumerate(PORTS):
        timed = din_arrival_times(inputs[port])
        last_arrival = max(last_arrival, timed[-1][0])
        want = [m.data for m in midiwire.decode(timed)[0]]
        got = [m.data for m in midiwire.decode(result.outputs.get("out%d" % (k + 1), []))[0]]
        sent += len(want)
        missing = len(want) - delivered(want, got)
        if missing:
            lost[port] = missing
    # Passes by their start (ns; the session's time 0 is the first pass): cycles, and the busy ones' ns.
    idle_passes = []
    busy = []
    busy_ns = []
    t = 0
    for c, ns in zip(result.pass_cycles, result.pass_ns):
        if t > last_arrival + 100_000_000:
            idle_passes.append(c)
        elif 1_000_000 <= t <= last_arrival:
            busy.append(c)
            busy_ns.append(ns)
        t += ns
    idle = statistics.median(idle_passes) if idle_passes else None
    load = sum(c - idle for c in busy if c > idle) / sum(busy) if busy and idle else None
    return {
        "messages": sent, "lost": lost, "load": load, "idle_cycles": idle,
        "longest_pass_ms": max(busy_ns) / 1e6 if busy_ns else None,
        "hold_ms": fwimport.firmware_module("ports").RX_RING * BYTE_MS,
        "overflow": {p: result.counters.get(p, {}).get("rx_overflow", 0) for p in PORTS},
    }


def verdict_lines(f):
    """The figures in words."""
    lines = []
    longest = f["longest_pass_ms"]
    if f["lost"]:
        lost = sum(f["lost"].values())
        lines.append("Verdict: NO. With four DIN inputs at full rate the box lost %d of %d messages (%s)."
                     % (lost, f["messages"], ", ".join("%s: %d" % kv for kv in sorted(f["lost"].items()))))
        if longest is not None:
            lines.append("Main-loop passes took up to %.2f ms while playing; every DIN input holds at least %.2f ms "
                         "of bytes, so bytes arriving during a longer pass are lost there." % (longest, f["hold_ms"]))
        overflow = f["overflow"]
        lines.append("The inputs' receive buffers overflowed by %s bytes (%s): what they lost beyond that was dropped "
                     "after the box had read it (the merge rules, docs/merger.md)."
                     % (", ".join(str(overflow[p]) for p in PORTS), ", ".join(PORTS)))
    else:
        lines.append("Verdict: YES. The box keeps up with four DIN inputs at full rate: all %d messages of %d ms of "
                     "non-stop playing on in1-in4 left out1-out4." % (f["messages"], STREAM_MS))
        if f["load"]:
            lines.append("Margin: the bytes took %.0f%% of the CPU, so it could take about %.1fx that traffic; the "
                         "longest pass, %.2f ms, is under the %.2f ms every DIN input holds."
                         % (100 * f["load"], 1 / f["load"], longest, f["hold_ms"]))
    lines.append("(Measured with four thrus, inN -> outN, so every output can carry what its input sends. Merging "
                 "all four into one DIN output is four times what its wire carries: the merge rules then "
                 "coalesce or drop, by design.)")
    return lines


def main():
    from host_tools.board import engine

    print("Verdict (board engine: CircuitPython 10.3 on an emulated RP2040): four DIN inputs at full rate")
    try:
        files = engine.find_files()
    except engine.Missing as e:
        print("  no verdict: %s" % e)
        return None
    inputs = session()
    result = engine.board_run(thru_config(), inputs, until_ms=STREAM_MS + 150, files=files)
    figures = judge(result, inputs)
    for line in verdict_lines(figures):
        print(line)
    return figures
