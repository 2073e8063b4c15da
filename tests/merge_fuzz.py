"""The merge fuzz job: seeded random traffic from every input at once, more than the outputs
carry (four DIN inputs at full rate into each DIN output, USB in bursts), through the real
``app.Box``; every output checked by the reference model (tests/merge_model.py, its own strict
decoder). ``make test`` runs a short one (tests/test_merge_fuzz.py); ``make fuzz`` runs
10^6 bytes per input and prints the figures, which must all be 0 but the bytes:

    python tests/merge_fuzz.py [--bytes N] [--seed S]
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for p in (str(HERE), str(HERE.parent)):
    if p not in sys.path:
        sys.path.append(p)

from host_tools import fwimport  # noqa: E402

fwimport._ensure_micropython()

from merge_model import USB, Player, check, make_rng, with_running_status  # noqa: E402
from merge_rig import Rig  # noqa: E402

BACKLOG = 1500  # bytes queued ahead of each input's wire: it is always busy


def fuzz(seed, bytes_per_input):
    rng = make_rng(seed)
    rig = Rig()
    players = [Player(i, rng) for i in range(5)]
    while any(len(p.sent) < bytes_per_input for p in rig.inputs):
        for i, port in enumerate(rig.inputs):
            if len(port.sent) >= bytes_per_input or len(port.data) - port.pos > BACKLOG:
                continue
            x = rng.random()
            if x < 0.01:
                port.queue(players[i].panic())
            else:
                msgs = [players[i].message() for _ in range(rng.randrange(1, 60))]
                clock = [0xF8] * rng.randrange(4) if i in (0, USB) else ()
                port.queue(with_running_status(msgs, rng, clock))
        rig.step(rng.randrange(1, 400))
        if rng.random() < 0.002:
            rig.box.select_preset(rng.randrange(2))
    for i, p in enumerate(players):
        rig.inputs[i].queue(p.close())
    rig.settle(limit_ms=10**7)
    report = check([bytes(p.sent) for p in rig.inputs], [bytes(p.data) for p in rig.outputs], *rig.counters())
    report.dropped = sum(rig.m.dropped)
    report.coalesced = sum(rig.m.coalesced)
    report.passes = rig.passes
    return report


def main(argv):
    n = 10**6
    seed = 1
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--bytes":
            n = int(args.pop(0))
        elif a == "--seed":
            seed = int(args.pop(0))
        else:
            print("usage: merge_fuzz.py [--bytes N] [--seed S]")
            return 2
    report = fuzz(seed, n)
    print("merge fuzz: seed %d, %d bytes per input, %d passes (%.1f s of box time)"
          % (seed, n, report.passes, report.passes / 6000))
    for name, value in report.figures().items():
        print("  %-18s %d" % (name, value))
    print("  (dropped by rule %d, coalesced %d: counted, and the counts checked)" % (report.dropped, report.coalesced))
    if not report.ok():
        print(report)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
