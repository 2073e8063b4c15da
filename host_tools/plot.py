"""Plots of a simulation: MIDI activity per port and the CV/gate signals at the jacks."""

import os

from host_tools import midiwire

NS_PER_MS = 1_000_000


def _steps(rows, name, end_ms):
    xs, ys = [], []
    value = 0.0
    for t, n, v in rows:
        if n != name:
            continue
        x = t / NS_PER_MS
        xs.extend([x, x])
        ys.extend([value, v])
        value = v
    xs.append(end_ms)
    ys.append(value)
    if xs and xs[0] > 0:
        xs.insert(0, 0.0)
        ys.insert(0, ys[0])
    return xs, ys


def plot_result(result, path):
    os.environ.setdefault("MPLBACKEND", "Agg")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end_ms = max(result.end_ns / NS_PER_MS, 1.0)
    names = []
    for _, name, _ in result.signals:
        if name not in names:
            names.append(name)
    groups = [
        ("pitch CV (V)", [n for n in names if n.startswith("cv")]),
        ("mod CV (V)", [n for n in names if n.startswith("mod")]),
        ("gates (V)", [n for n in names if n.startswith("gate")]),
        ("drums (V)", [n for n in names if n.startswith("drum")]),
        ("clock / reset / run (V)", [n for n in names if n in ("clock", "reset", "run")]),
    ]
    fig, axes = plt.subplots(len(groups) + 1, 1, figsize=(12, 13), sharex=True)
    ax = axes[0]
    lanes = []
    for port, timed in list(result.inputs.items()) + [("->" + p, t) for p, t in result.outputs.items()]:
        msgs, _ = midiwire.decode(timed)
        lanes.append(port)
        y = len(lanes)
        notes = [m.time_ns / NS_PER_MS for m in msgs if m.kind() == "note"]
        clocks = [m.time_ns / NS_PER_MS for m in msgs if m.kind() == "realtime"]
        other = [m.time_ns / NS_PER_MS for m in msgs if m.kind() not in ("note", "realtime")]
        ax.plot(notes, [y] * len(notes), "|", color="tab:blue", markersize=10)
        ax.plot(clocks, [y] * len(clocks), "|", color="tab:gray", markersize=6)
        ax.plot(other, [y] * len(other), "|", color="tab:orange", markersize=10)
    ax.set_yticks(range(1, len(lanes) + 1))
    ax.set_yticklabels(lanes)
    ax.set_title("MIDI: notes (blue), real-time (grey), other (orange)")
    for ax, (title, group) in zip(axes[1:], groups):
        for name in group:
            xs, ys = _steps(result.signals, name, end_ms)
            ax.plot(xs, ys, drawstyle="default", label=name, linewidth=1)
        ax.set_ylabel(title)
        if group:
            ax.legend(loc="upper right", fontsize="x-small", ncol=4)
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
