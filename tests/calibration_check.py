"""The assertion both calibration files make (test_calibration.py, test_calibration_demo.py)."""

from host_tools import calibration


def calibration_check(sim, board):
    rows = calibration.compare(sim, board)
    assert rows, "no figure to compare"
    for figure, s, b, _ in rows:
        print("  %-22s sim %8.3f  board %8.3f" % (figure, s, b))
    off = ["%s: sim %.3f ms, board %.3f ms" % (f, s, b) for f, s, b, ok in rows if not ok]
    assert not off, off
