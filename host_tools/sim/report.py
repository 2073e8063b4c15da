"""Turn a ``SimResult`` into the files of the simulator contract and the printed summary."""

import csv
import json
import os

from host_tools import bench_clock, bench_cv, midiwire
from host_tools.figures import NS_PER_MS
from host_tools.figures import stats_ms as _stats
from host_tools.sim.runner import input_ports, output_ports


def _latency_class(m):
    s = m.data[0]
    if s == 0xF8:
        return "clock"
    if s in (0xFA, 0xFB, 0xFC):
        return "transport"
    if s & 0xF0 in (0x80, 0x90):
        return "note"
    if s == 0xF0:
        return "sysex"
    return "other"


TIMING = (0xF8, 0xFA, 0xFB, 0xFC, 0xFE)


def latencies(result):
    """Added latency of every output message: from the moment its input message had fully
    arrived at the box to the moment it had fully left the output.

    Each output message is matched to an identical input message that arrived before it and was
    not matched yet, by the merge rules, so that a message the box did not forward (a dropped
    note, another input's clock) is never matched: a timing byte (clock, transport, active
    sensing) jumps every queue, so it is matched to the latest one; any other message keeps
    its input's order, so it is matched to the earliest one that arrived after the last message
    of the same input already matched on that output (older ones were not forwarded).

    Returns ``(all, idle)``: figures per class over every message, and over the messages that
    found their output idle (the output's previous message had fully left before this one
    arrived), the case the latency targets are stated for."""
    by_class = {}
    idle = {}
    for pairs in matched(result).values():
        prev_end = None
        for m, t in pairs:
            if t is not None:
                added = m.time_ns - t
                by_class.setdefault(_latency_class(m), []).append(added)
                if prev_end is None or prev_end <= t:
                    idle.setdefault(_latency_class(m), []).append(added)
            prev_end = m.time_ns
    out = {name: _stats(v) for name, v in sorted(by_class.items())}
    out["all"] = _stats([x for v in by_class.values() for x in v])
    return out, {name: _stats(v) for name, v in sorted(idle.items())}


def matched(result):
    """{output port: [(message, arrival ns of the input message it forwards, or None)]}, each
    output's messages in order, matched as ``latencies`` says."""
    pools = {}  # message bytes -> {input port: arrival times}
    for port, timed in result.inputs.items():
        msgs, _ = midiwire.decode(timed)
        for m in msgs:
            pools.setdefault(m.data, {}).setdefault(port, []).append(m.time_ns)
    out = {}
    for port, timed in result.outputs.items():
        out_msgs, _ = midiwire.decode(timed)
        cursor = {}  # (bytes, input port) -> index of the first time not matched or passed
        last_from = {}  # input port -> arrival of its last message matched on this output
        out[port] = [(m, _match(m, pools.get(m.data, {}), cursor, last_from)) for m in out_msgs]
    return out


def _match(m, by_port, cursor, last_from):
    # The arrival time ``m`` is matched to (and marked), or None.
    best = None
    for port, times in by_port.items():
        k = cursor.get((m.data, port), 0)
        if m.data[0] in TIMING:
            while k + 1 < len(times) and times[k + 1] <= m.time_ns:
                k += 1  # an older one was not forwarded
        else:
            lo = last_from.get(port)
            while k < len(times) and lo is not None and times[k] < lo:
                k += 1  # older than a message of its input already sent: not forwarded
        cursor[(m.data, port)] = k
        if k < len(times) and times[k] <= m.time_ns:
            t = times[k]
            if best is None or (t > best[0] if m.data[0] in TIMING else t < best[0]):
                best = (t, port)
    if best is None:
        return None
    t, port = best
    cursor[(m.data, port)] += 1
    if m.data[0] not in TIMING:
        last_from[port] = t
    return t


def summary(result):
    ports = {}
    for port in input_ports(result):
        name = port + "_in" if port in ("usb", "usbh") else port
        timed = result.inputs.get(port, [])
        msgs, problems = midiwire.decode(timed)
        counters = dict(result.counters.get(name, {}))
        parsed = counters.pop("parsed", None)
        ports[name] = {
            "bytes": len(timed),
            "messages": len(msgs),
            "dropped": counters,
            "coalesced": 0,
            "parsed_by_box": parsed,
            "stream_problems": len(problems),
        }
    for port in output_ports(result):
        key = port + "_out" if port in ("usb", "usbh") else port
        name = port
        timed = result.outputs.get(port, [])
        msgs, problems = midiwire.decode(timed)
        ports[name] = {
            "bytes": len(timed),
            "messages": len(msgs),
            "dropped": dict(result.counters.get(key, {})),
            "coalesced": result.counters.get("coalesced", {}).get(key, 0),
            "stream_problems": len(problems),
        }
    end_ms = result.end_ns / NS_PER_MS
    latency, latency_idle = latencies(result)
    if result.usbh:
        # The device on the USB host port: when it was plugged in and out.
        ports["usbh_in"]["plugs"] = [[round(t / NS_PER_MS, 3), what] for t, what in result.usbh_plugs]
    out = {
        "ports": ports,
        "latency_ms": latency,
        "latency_idle_ms": latency_idle,
        "loop": {
            "passes": result.passes,
            "mean_period_ms": round(end_ms / result.passes, 4) if result.passes else None,
            "max_period_ms": round(result.max_pass_ns / NS_PER_MS, 4),
            "cpu_load": round(result.cpu_ns / result.end_ns, 4) if result.end_ns and result.cpu_ns is not None else None,
        },
        "end_ms": round(end_ms, 3),
        "preset": result.counters.get("preset"),
        "config_errors": result.config_errors,
        "sysex_timeouts": result.counters.get("sysex_timeouts", 0),
        "clock": bench_clock.summary_figures(result),
        "cv": bench_cv.summary_figures(result),
    }
    board = getattr(result, "board", None)
    if board is not None:
        out["board"] = board
    return out


def write_outputs(result, out_dir, plot=True):
    os.makedirs(out_dir, exist_ok=True)
    for port in output_ports(result):
        timed = result.outputs.get(port, [])
        with open(os.path.join(out_dir, port + ".txt"), "w") as f:
            f.write(midiwire.format_timed_bytes(timed, header=["Thruway simulator: bytes that left %s" % port]))
        msgs, _ = midiwire.decode(timed)
        midiwire.write_smf(os.path.join(out_dir, port + ".mid"), msgs)
    with open(os.path.join(out_dir, "signals.csv"), "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["time_ms", "signal", "value"])
        for t, name, volts in result.signals:
            writer.writerow([midiwire.format_time_ns(t), name, "%.4f" % volts])
    data = summary(result)
    with open(os.path.join(out_dir, "summary.json"), "w") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "console.txt"), "w") as f:
        f.write(result.console)
    if plot:
        from host_tools import plot as plotting

        plotting.plot_result(result, os.path.join(out_dir, "signals.png"))
    return data


def print_summary(data, out_dir, stream):
    p = stream.write
    p("Thruway simulation: %.1f ms, preset %s, loop period %.3f ms (mean)\n"
      % (data["end_ms"], data["preset"], data["loop"]["mean_period_ms"] or 0))
    p("%-7s %7s %9s  %s\n" % ("port", "bytes", "messages", "dropped"))
    for port, info in data["ports"].items():
        if not info["bytes"] and port.startswith(("in", "usb_in")):
            continue
        drops = ", ".join("%s %d" % (k, v) for k, v in sorted(info["dropped"].items()) if v) or "none"
        p("%-7s %7d %9d  %s\n" % (port, info["bytes"], info["messages"], drops))
    p("added latency (ms)  count   mean    max\n")
    for name, st in data["latency_ms"].items():
        if st["count"]:
            p("  %-16s %6d %6.3f %6.3f\n" % (name, st["count"], st["mean"], st["max"]))
    idle = data.get("latency_idle_ms", {})
    if idle:
        p("  at idle (output quiet when the message arrived): %s\n" % ", ".join(
            "%s max %.3f" % (name, st["max"]) for name, st in idle.items() if st["count"]))
    c = data.get("clock")
    if c and c["edges"]:
        jit = c["jitter_ms"]
        p("clock jack: %d pulses, jitter max %s ms, std %s ms (grid %s ms); tempo %s BPM\n"
          % (c["edges"], jit["max_ms"], jit["std_ms"], jit["period_ms"], c["bpm"]))
        d = c["f8_to_edge_ms"]
        if d["count"]:
            p("  F8 in -> clock edge: mean %.3f ms, max %.3f ms\n" % (d["mean_ms"], d["max_ms"]))
    v = data.get("cv")
    if v and v["gate_rise_delay_ms"]["count"]:
        g = v["gate_rise_delay_ms"]
        p("cv gates: %d rises, note -> gate %.3f ms mean, %.3f max; CV settled %.3f ms min before the edge\n"
          % (g["count"], g["mean"], g["max"], v["cv_settle_ms"]["min"]))
        if v["gate_high_ms"]["count"]:
            p("  gates up %.3f ms at the shortest\n" % v["gate_high_ms"]["min"])
    if v and v["drum_trigger_ms"]["count"]:
        t = v["drum_trigger_ms"]
        p("drum triggers: %d, %.3f-%.3f ms long\n" % (t["count"], t["min"], t["max"]))
    for err in data["config_errors"]:
        p("config error: %s\n" % err)
    p("outputs written to %s\n" % out_dir)
