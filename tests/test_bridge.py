"""``python -m host_tools bridge``: the firmware's Box between MIDI ports of the computer.

The loop, the adapters and the command line are tested with small fake ports (no MIDI system
needed). The real thing (mido + python-rtmidi, virtual ports) runs where the platform has a
MIDI system: the ALSA sequencer (/dev/snd/seq), or else a JACK server this test starts itself
when `jackd` is installed (Debian package jackd2, dummy driver: no sound hardware needed).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import mido
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools import bridge, midiwire

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = (ROOT / "config.json").read_text()


# -- fakes -------------------------------------------------------------------------------------------


class FakeIn:
    """An input port: ``script`` maps a pass number to the messages that arrive before it."""

    def __init__(self, script, clock):
        self.script = script
        self.clock = clock
        self.closed = False

    def iter_pending(self):
        due = [k for k in sorted(self.script) if k <= self.clock.passes]
        return iter([m for k in due for m in self.script.pop(k)])

    def close(self):
        self.closed = True


class FakeOut:
    def __init__(self):
        self.sent = []
        self.closed = False

    def send(self, msg):
        self.sent.append(msg)

    def close(self):
        self.closed = True


class Clock:
    """ticks_ms that moves 1 ms a box pass (``tick`` is run_loop's once-a-pass hook)."""

    def __init__(self):
        self.passes = 0

    def ticks(self):
        return self.passes & bridge.TICKS_MASK

    def tick(self):
        self.passes += 1


def msg(kind, **kw):
    return mido.Message(kind, **kw)


def run(script_by_port, config=DEFAULT_CONFIG, passes=200, outputs=("out1", "out2", "out3", "out4", "usb"),
        stop_at=None):
    clock = Clock()
    ins = {p: FakeIn(s, clock) for p, s in script_by_port.items()}
    outs = {p: FakeOut() for p in outputs}
    box, inputs, adapters = bridge.make_box(ins, outs, config, clock.ticks)
    sleeps = []

    def should_stop():
        if stop_at is not None and clock.passes >= stop_at:
            raise KeyboardInterrupt
        return clock.passes >= passes

    done, released = bridge.run_loop(box, inputs, adapters, should_stop, sleep=sleeps.append, status=clock.tick)
    return outs, {"passes": done, "released": released, "sleeps": len(sleeps), "box": box}


def kinds(port):
    return [m.type for m in port.sent]


# -- the loop with fake ports ------------------------------------------------------------------------


def test_running_status_stream_comes_out_as_every_message(monkeypatch):
    chord = [msg("note_on", note=n, velocity=100) for n in (60, 64, 67)]
    raw = {}
    real = bridge.MidoOut.send

    def spy(self, buf, start, end, now):
        took = real(self, buf, start, end, now)
        raw.setdefault(id(self), bytearray()).extend(buf[start:start + took])
        return took

    monkeypatch.setattr(bridge.MidoOut, "send", spy)
    outs, _ = run({"in1": {3: chord + [msg("clock")]}})
    for name, port in outs.items():
        notes = [(m.type, m.note) for m in port.sent if m.type == "note_on"]
        assert notes == [("note_on", 60), ("note_on", 64), ("note_on", 67)], name
        assert "clock" in kinds(port)
    # What the merger wrote used running status (one status byte for the three notes), which
    # mido's own parser cannot follow: the reason for bridge.StreamParser.
    stream = next(iter(raw.values()))
    assert stream.count(0x90) == 1 and len(stream) == 1 + 3 * 2 + 1
    parser = mido.Parser()
    parser.feed(stream)
    assert sum(1 for m in parser if m.type == "note_on") < 3


def test_routes_of_the_config_apply():
    config = '{"version": 1, "presets": [{"name": "one", "routes": [{"from": "in1", "to": "out2"}]}]}'
    outs, _ = run({"in1": {2: [msg("control_change", control=1, value=5)]},
                   "usb": {2: [msg("note_on", note=1, velocity=1)]}}, config=config)
    assert kinds(outs["out2"]) == ["control_change"]
    assert all(not outs[p].sent for p in ("out1", "out3", "out4", "usb"))


def test_usb_in_is_not_echoed_to_usb_out():
    outs, _ = run({"usb": {2: [msg("note_on", note=40, velocity=90), msg("note_off", note=40)]}})
    assert kinds(outs["out1"]) == ["note_on", "note_off"]
    assert outs["usb"].sent == []


def test_sysex_and_transport_pass_whole():
    sysex = msg("sysex", data=list(range(0, 100)))
    outs, _ = run({"in2": {2: [msg("start"), sysex], 5: [msg("clock"), msg("stop")]}})
    assert kinds(outs["out3"]) == ["start", "sysex", "clock", "stop"]
    assert outs["out3"].sent[1].data == tuple(range(100))


def test_ctrl_c_releases_held_notes():
    outs, result = run({"in1": {2: [msg("note_on", channel=2, note=50, velocity=80)]}}, stop_at=50, passes=10**6)
    assert result["passes"] == 50 and result["released"] == 5
    for port in outs.values():
        assert [(m.type, m.channel, m.note) for m in port.sent] == [("note_on", 2, 50), ("note_off", 2, 50)]


def test_lost_sender_notes_are_released_by_the_box():
    """Active sensing, then silence: after 300 ms the box itself sends the note-off (the bridge's
    time base drives the firmware's timeouts)."""
    script = {2: [msg("active_sensing"), msg("note_on", note=70, velocity=90)], 100: [msg("active_sensing")]}
    outs, result = run({"in1": script}, passes=600)
    assert result["released"] == 0  # released by the box before the stop, not by the bridge
    assert [(m.type, m.note) for m in outs["out1"].sent if m.type != "active_sensing"] == [
        ("note_on", 70), ("note_off", 70)]


def test_idle_passes_sleep_busy_ones_do_not():
    _, result = run({"in1": {5: [msg("note_on", note=1, velocity=1)]}}, passes=100)
    assert 90 <= result["sleeps"] < 100


# -- the stream parser -------------------------------------------------------------------------------


def parse_all(data):
    p = bridge.StreamParser()
    out = [p.feed(b) for b in data]
    return [m for m in out if m is not None], p.problems


def test_parser_running_status_and_realtime_inside():
    msgs, problems = parse_all(bytes([0x90, 0x3C, 0xF8, 0x64, 0x3E, 0x64, 0xF0, 1, 0xFA, 2, 0xF7, 0xC0, 5, 6]))
    assert msgs == [b"\xf8", b"\x90\x3c\x64", b"\x90\x3e\x64", b"\xfa", b"\xf0\x01\x02\xf7", b"\xc0\x05",
                    b"\xc0\x06"]
    assert problems == 0


def test_parser_counts_what_a_valid_stream_never_holds():
    msgs, problems = parse_all(bytes([0x40, 0x90, 0x3C, 0xF1, 0x10, 0xF7, 0xF4]))
    assert msgs == [b"\xf1\x10"]
    assert problems == 4  # stray data, cut note, F7 outside SysEx, undefined F4


byte = st.one_of(st.integers(0, 0x7F), st.sampled_from([0x80, 0x90, 0xA5, 0xB0, 0xC3, 0xD0, 0xEF, 0xF0, 0xF1, 0xF2,
                                                        0xF3, 0xF6, 0xF7, 0xF8, 0xFA, 0xFE, 0xFF]))


@settings(max_examples=400, deadline=None)
@given(st.lists(byte, max_size=80))
def test_parser_agrees_with_the_independent_decoder(data):
    ours, _ = parse_all(bytes(data))
    theirs, problems = midiwire.decode([(k, b) for k, b in enumerate(data)])
    assert ours == [m.data for m in theirs]


# -- port names --------------------------------------------------------------------------------------

INS = ["Midi Through:Midi Through Port-0 14:0", "Arturia KeyStep 32:0", "Elektron Digitakt 28:0",
       "Elektron Digitakt 28:1"]
OUTS = ["Midi Through:Midi Through Port-0 14:0", "Elektron Digitakt 28:0", "Thruway USB 20:0"]


def test_maps_by_exact_name_or_substring():
    ins, outs = bridge.resolve_maps(["in1=keystep", "in2=Elektron Digitakt 28:0", "out1=digitakt", "usb=thruway"],
                                    INS, OUTS)
    assert ins == {"in1": "Arturia KeyStep 32:0", "in2": "Elektron Digitakt 28:0"}
    assert outs == {"out1": "Elektron Digitakt 28:0", "usb": "Thruway USB 20:0"}


@pytest.mark.parametrize("maps,fragment", [
    (["in1=digitakt"], "matches 2 MIDI input ports"),
    (["in1=moog"], "no MIDI input port matches 'moog'"),
    (["in5=keystep"], "unknown box port 'in5'"),
    (["in1"], "expected PORT=NAME"),
    (["in1=keystep", "in1=through"], "mapped twice"),
    (["in1=keystep", "in2=keystep"], "already mapped"),
])
def test_bad_maps(maps, fragment):
    with pytest.raises(bridge.BridgeError, match=fragment):
        bridge.resolve_maps(maps, INS, OUTS)


# -- the command line with a fake MIDI system --------------------------------------------------------


class FakeBackend:
    def __init__(self, fail=None):
        self.fail = fail
        self.opened = []
        self.clock = Clock()

    def get_input_names(self):
        if self.fail:
            raise RuntimeError(self.fail)
        return INS

    def get_output_names(self):
        return OUTS

    def open_input(self, name):
        calls = {"n": 0}

        class Port(FakeIn):
            def iter_pending(self):
                calls["n"] += 1
                self.clock.tick()
                if calls["n"] == 1:
                    return iter([msg("note_on", note=64, velocity=99)])
                if calls["n"] > 20:
                    raise KeyboardInterrupt  # Ctrl-C
                return iter([])

        port = Port({}, self.clock)
        self.opened.append(port)
        return port

    def open_output(self, name):
        port = FakeOut()
        port.name = name
        self.opened.append(port)
        return port


def test_main_runs_until_ctrl_c_and_closes_everything(monkeypatch, capsys):
    fake = FakeBackend()
    monkeypatch.setattr(bridge, "_backend", lambda api: fake)
    monkeypatch.setattr(bridge, "IDLE_SLEEP_S", 0)
    assert bridge.main(["--map", "in1=keystep", "--map", "out1=digitakt"]) == 0
    out = capsys.readouterr().out
    assert "in1     <- Arturia KeyStep 32:0" in out and "Ctrl-C to stop" in out
    assert "stopped: 1 messages in, 1 out, 1 notes released" in out
    assert all(p.closed for p in fake.opened)
    sent = fake.opened[1].sent
    assert [(m.type, m.note) for m in sent] == [("note_on", 64), ("note_off", 64)]


def test_main_monitor_names_the_ports_as_the_config_does(monkeypatch, capsys, tmp_path):
    """bridge --monitor --config: every message printed, and the port lines, name a port the
    config's "names" names as explain does ("KeyStep (in1)")."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"version": 2, "names": {"in1": "KeyStep", "out1": "Digitakt"},
                                  "presets": [{"name": "p", "routes": [{"from": "in1", "to": "out1"}]}]}))
    monkeypatch.setattr(bridge, "_backend", lambda api: FakeBackend())
    monkeypatch.setattr(bridge, "IDLE_SLEEP_S", 0)
    assert bridge.main(["--map", "in1=keystep", "--map", "out1=digitakt", "--monitor", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "bridge: KeyStep (in1) <- Arturia KeyStep 32:0" in out
    assert "bridge: Digitakt (out1) -> Elektron Digitakt 28:0" in out
    monitored = [line.split(None, 1)[1] for line in out if not line.startswith("bridge:")]
    assert monitored == ["KeyStep (in1) ch1 Note On E4 vel 99", "Digitakt (out1) ch1 Note On E4 vel 99"]


def test_list(monkeypatch, capsys):
    monkeypatch.setattr(bridge, "_backend", lambda api: FakeBackend())
    assert bridge.main(["--list"]) == 0
    out = capsys.readouterr().out
    assert "Arturia KeyStep 32:0" in out and "Thruway USB 20:0" in out


@pytest.mark.parametrize("argv,fragment,fail", [
    (["--list"], "no MIDI system: ALSA lib: cannot open /dev/snd/seq", "ALSA lib: cannot open /dev/snd/seq"),
    ([], "nothing to bridge", None),
    (["--map", "in1=moog"], "no MIDI input port matches", None),
    (["--map", "in1=keystep", "--config", "/nonexistent.json"], "cannot read", None),
])
def test_errors_are_one_line_exit_2(monkeypatch, capsys, argv, fragment, fail):
    monkeypatch.setattr(bridge, "_backend", lambda api: FakeBackend(fail))
    assert bridge.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0], err


def test_bad_config_is_refused(monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"presets": "x"}')
    monkeypatch.setattr(bridge, "_backend", lambda api: FakeBackend())
    assert bridge.main(["--map", "in1=keystep", "--config", str(bad)]) == 2
    assert "presets" in capsys.readouterr().err


# -- real ports: mido + python-rtmidi, virtual ports ---------------------------------------------------


def _jack_ready(api):
    try:
        b = mido.Backend("mido.backends.rtmidi/" + api, load=True)
        b.get_input_names()
        return True
    except Exception:
        return False


@pytest.fixture
def midi_api():
    """The rtmidi API to test with; starts (and stops) a JACK server when it has to."""
    try:
        import rtmidi  # noqa: F401
    except ImportError:
        pytest.skip("python-rtmidi is not installed")
    if os.path.exists("/dev/snd/seq"):
        yield "LINUX_ALSA"
        return
    jackd = shutil.which("jackd")
    if not jackd:
        pytest.skip("no MIDI system here: no ALSA sequencer (/dev/snd/seq, absent in containers) and no JACK "
                    "(`apt-get install jackd2` to run this test); the bridge loop is tested with fake ports above")
    if _jack_ready("UNIX_JACK"):
        yield "UNIX_JACK"  # a JACK server is already running
        return
    server = subprocess.Popen([jackd, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "256"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if _jack_ready("UNIX_JACK"):
                break
            time.sleep(0.1)
        else:
            pytest.skip("jackd did not start")
        yield "UNIX_JACK"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _receive(port, count, limit_s=10.0):
    got = []
    deadline = time.monotonic() + limit_s
    while len(got) < count and time.monotonic() < deadline:
        for m in port.iter_pending():
            got.append(m)
        time.sleep(0.005)
    return got


def test_bridge_between_virtual_ports(midi_api, tmp_path):
    backend = mido.Backend("mido.backends.rtmidi/" + midi_api, load=True)
    src = backend.open_output("ThruwayTest src", virtual=True)
    sink = backend.open_input("ThruwayTest sink", virtual=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "bridge", "--api", midi_api, "--map", "in1=ThruwayTest src",
         "--map", "out1=ThruwayTest sink"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "Ctrl-C to stop" in line:
                break
        assert any("in1     <- " in x and "ThruwayTest src" in x for x in lines), lines
        sent = [msg("note_on", note=60, velocity=100), msg("note_on", note=64, velocity=100), msg("clock"),
                msg("control_change", control=74, value=12), msg("sysex", data=[0x7D, 1, 2, 3]),
                msg("pitchwheel", pitch=1000), msg("note_off", note=60, velocity=0)]
        for m in sent:
            src.send(m)
        got = _receive(sink, len(sent))
        # Real-time bytes may overtake queued messages (the merger sends them first); the rest
        # keeps its order. Running status on the box's output is undone by the bridge's parser.
        assert [m.bytes() for m in got if m.type != "clock"] == [m.bytes() for m in sent if m.type != "clock"]
        assert [m.type for m in got].count("clock") == 1
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
        assert "stopped: 7 messages in, 7 out, 1 notes released" in out
        released = _receive(sink, 1, limit_s=5)
        assert [(m.type, m.note) for m in released] == [("note_off", 64)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        src.close()
        sink.close()
