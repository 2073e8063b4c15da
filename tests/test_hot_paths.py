"""Every hot path in tests/mp_paths runs allocation-free on the MicroPython VM.

Each scenario builds the real firmware objects with scripted ports and calls
``mpharness.check_no_alloc``: bytes allocated by one steady-state call must be 0, and a further
call must pass under ``micropython.heap_lock()``. (The heap after start-up is measured on the
board engine, tests/test_heap.py: the VM's figure is only a proxy for it.)
"""

from pathlib import Path

import mpvm
import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = sorted((Path(__file__).parent / "mp_paths").glob("*.py"))


@pytest.mark.parametrize("scenario", PATHS, ids=[p.stem for p in PATHS])
def test_hot_path_allocates_nothing(scenario):
    files = mpvm.firmware_files()
    files["/fw/scripted_ports.py"] = (ROOT / "host_tools" / "scripted_ports.py").read_text()
    # A scenario may split itself into VM steps with "# --- step" lines (see merge_path.py).
    steps = [part for part in scenario.read_text().split("# --- step") if part.strip()]
    steps = [steps[0]] + ["\n".join(part.split("\n")[1:]) for part in steps[1:]]
    out = mpvm.run(steps, files=files, timeout=120)
    report = mpvm.parse_report(out)
    assert report["alloc"], "scenario %s made no check_no_alloc call" % scenario.name
    for name, allocated in report["alloc"].items():
        assert allocated == 0, "%s allocated %d bytes per call" % (name, allocated)
        assert report["heaplock"][name] == "ok"
    if scenario.stem == "merge_path":
        forwarded = int(out.split("FORWARDED")[1].split()[0])
        parsed = int(out.split("PARSED")[1].split()[0])
        assert forwarded > 1000 and parsed > 300  # the path really carried traffic
    if scenario.stem == "routing_path":
        # Program changes switched presets, and some route followed an input's notes.
        assert int(out.split("SELECTS")[1].split()[0]) > 2
        assert int(out.split("FOLLOWED")[1].split()[0]) == 2  # in2 (bit 1)
    if scenario.stem == "shared_pairs_path":
        # The shared pairs' code placed copies, counted them, took late values and reset held
        # controllers per part (each count a small int kept above 0 once it ran).
        calls = [int(w) for w in out.split("CALLS")[1].split()[:4]]
        assert all(calls), calls
    if scenario.stem == "note_tables_path":
        # Every table was taken and a note-on found none (dropped by rule); every off was paid.
        words = out.split("TOO_MANY_NOTES")[1].split()
        assert int(words[0]) > 0 and words[-1] == "0", words
    if scenario.stem == "usbh_path":
        # Reads unpacked the chord (10 MIDI bytes a transfer), sends packed the stream.
        assert int(out.split("USBH_BYTES_IN")[1].split()[0]) >= 20
        assert int(out.split("USBH_PACKETS_OUT")[1].split()[0]) >= 12
    if scenario.stem == "overload_path":
        # The overload really happened: values were coalesced (and notes dropped by rule).
        assert int(out.split("COALESCED")[1].split()[0]) > 0
        # SysEx from several inputs contended, and DIN inputs that could not wait dropped some whole.
        assert int(out.split("SYSEX_DROPPED")[1].split()[0]) > 0
    if scenario.stem == "outputs_path":
        # Both outputs really wrote (the UART stream and the PIO stage's background writes).
        assert int(out.split("UART_SENT")[1].split()[0]) > 0
        assert int(out.split("PIO_WRITES")[1].split()[0]) > 0
