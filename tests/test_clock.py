"""The clock (firmware/clock.py): master modes, analog resolutions, transport, switching.

Two layers, both in virtual time:
- unit tests drive ``Clock`` with small fake pins and a fake ``ticks_ms``, the way ``app`` does
  (``service`` only when ``due`` has come, the followed master's bytes through the merger's
  ``Merger.realtime`` and its ``ClockMaster``, ``follow_ticks`` when it has counted ticks);
- end-to-end tests run the unchanged firmware in the simulator (``host_tools.bench_clock``
  wraps ``runner.simulate`` with panel calls and clock-in edges) and read the jacks' signals and
  the MIDI outputs.
"""

import json

import pytest

from firmware import clock as fwclock
from firmware import clock_setup, defaults, router
from firmware.merger import Merger
from host_tools import bench_clock as bc

MASK = 0x1FFFFFFF
HALF = 0x10000000
START = MASK + 1 - 3000  # 3 s before ticks_ms wraps: every test crosses the wrap


# -- unit rig ---------------------------------------------------------------------------------


class Ticks:
    def __init__(self, t):
        self.t = t  # an unwrapped ms count; ticks_ms() returns it wrapped

    def __call__(self):
        return self.t & MASK


class Pin:
    """A DigitalInOut stand-in: ``value`` only, every change recorded with its time."""

    def __init__(self, ticks, value=False):
        self._ticks = ticks
        self._value = value
        self.changes = []  # (t_ms, level)

    @property
    def value(self):
        return self._value

    @value.setter
    def value(self, v):
        v = bool(v)
        if v != self._value:
            self._value = v
            self.changes.append((self._ticks.t, v))

    def rises(self, since=None):
        return [t for t, v in self.changes if v and (since is None or t >= since)]

    def widths(self):
        out = []
        up = None
        for t, v in self.changes:
            if v:
                up = t
            elif up is not None:
                out.append(t - up)
                up = None
        return out


class Rig:
    """A Clock on fake pins, stepped one pass per ms the way app.Box.step calls it."""

    def __init__(self, settings=None, gate=True, start=START):
        self.ticks = Ticks(start)
        self.t0 = start
        self.clock_out = Pin(self.ticks)
        self.reset_out = Pin(self.ticks)
        self.run_out = Pin(self.ticks)
        self.clock_in = Pin(self.ticks, True)  # pull-up: no pulse on the jack
        self.clock = fwclock.Clock(self.clock_out, self.reset_out, self.run_out, self.clock_in, self.ticks)
        self.merger = Merger(1, 1)  # the followed master's bytes reach the clock through it
        self.clock.follow(self.merger.clock_master)
        clock_setup.configure(self.clock, clock_settings(**(settings or {})))
        self.sent = []  # (t_ms, byte) handed to the merger by service()
        self.gate = gate
        self.calls = 0

    def at(self, ms):
        return self.t0 + ms

    def run(self, until_ms, master=(), jack=()):
        """Run to ``t0 + until_ms``. ``master``: [(ms, byte)] from the followed master;
        ``jack``: [(ms, high)] levels of the clock-in jack (the pin reads the inverse)."""
        master = sorted(master)
        jack = sorted(jack)
        mi = ji = 0
        c = self.clock
        m = self.merger
        cm = m.clock_master
        while self.ticks.t < self.t0 + until_ms:
            ms = self.ticks.t - self.t0
            while ji < len(jack) and jack[ji][0] <= ms:
                self.clock_in._value = not jack[ji][1]
                ji += 1
            now = self.ticks()
            while mi < len(master) and master[mi][0] <= ms:
                b = master[mi][1]
                if b > 0x100:
                    c.song_position(b - 0x10000)
                else:
                    m.now = now
                    m.realtime(0, b)
                mi += 1
            if cm.ticks:
                c.follow_ticks()  # as app.Box does, in the next ms tick's pass
            if not self.gate or ((now - c.due) & MASK) < HALF:
                self.calls += 1
                b = c.service(now)
                while b:
                    self.sent.append((self.ticks.t, b))
                    b = c.service(now)
            self.ticks.t += 1

    def ticks_sent(self):
        return [t for t, b in self.sent if b == 0xF8]

    def transport(self):
        return [(t - self.t0, b) for t, b in self.sent if b != 0xF8]


def clock_settings(master="auto", bpm=120, resolution=4, pulse_ms=5, reset_ms=5):
    c = json.loads(json.dumps(defaults.DEFAULT_CLOCK))
    c["master"] = master
    c["bpm"] = bpm
    c["analog"] = {"resolution": resolution, "pulse_ms": pulse_ms, "reset_ms": reset_ms}
    return c


def follow_stream(bpm, start_ms, seconds, lead_ticks=24, song=None):
    """A master's bytes: clock while stopped, Start (or Song Position + Continue), clock on.
    Times are whole ms (the firmware sees ms ticks): the ideal grid rounded."""
    period = 60000.0 / bpm / 24
    out = []
    for k in range(lead_ticks):
        out.append((int(round(start_ms - (lead_ticks - k) * period)), 0xF8))
    if song is None:
        out.append((start_ms, 0xFA))
    else:
        out.append((start_ms - 1, 0x10000 + song))
        out.append((start_ms, 0xFB))
    n = int(seconds * 1000 / period)
    for k in range(n):
        out.append((int(round(start_ms + 1 + k * period)), 0xF8))
    return out, period


# -- defaults and settings -----------------------------------------------------------------------


def test_default_clock_is_the_documented_preset_object():
    d = defaults.DEFAULT_CLOCK
    assert d["master"] == "auto" and d["bpm"] == 120
    assert d["analog"] == {"resolution": 4, "pulse_ms": 5, "reset_ms": 5}
    # Every output but usbh, which a preset gets as a port not named: sent, undivided.
    assert set(d["send"]) == set(router.OUTPUTS) - {"usbh"} and all(d["send"].values())
    assert set(d["divide"]) == set(router.OUTPUTS) - {"usbh"} and set(d["divide"].values()) == {1}
    send, divide = clock_setup.clock_outputs(d)
    assert send >> router.OUTPUTS.index("usbh") & 1 and divide[router.OUTPUTS.index("usbh")] == 1
    # clock_outputs numbers the outputs as the router does (bit o, divide[o]).
    send, divide = clock_setup.clock_outputs({"send": {"usb": False}, "divide": {"out3": 4}})
    assert send == (1 << len(router.OUTPUTS)) - 1 - (1 << router.USB_OUTPUT)
    assert divide[router.OUTPUTS.index("out3")] == 4 and divide.count(1) == len(router.OUTPUTS) - 1


def test_config_checker_merges_user_clock_keys_over_the_defaults():
    from firmware import config

    text = json.dumps({"presets": [{"routes": [], "clock": {"master": "in2", "analog": {"resolution": "1bar"}}}]})
    settings, errors = config.load(text)
    assert errors == []
    c = settings["presets"][0]["clock"]
    assert c["master"] == "in2" and c["bpm"] == 120
    assert c["analog"] == {"resolution": "1bar", "pulse_ms": 5, "reset_ms": 5}


def test_clock_outputs_mask_and_divide():
    c = clock_settings()
    c["send"]["out2"] = False
    c["divide"]["usb"] = 4
    mask, divide = clock_setup.clock_outputs(c)
    assert mask == 0b1111101
    assert divide == [1, 1, 1, 1, 4, 1, 1]


# -- internal master ---------------------------------------------------------------------------


@pytest.mark.parametrize("bpm", [20, 40, 120, 133.33, 300])
def test_internal_ticks_sit_on_an_exact_grid_without_drift(bpm):
    r = Rig({"master": "internal", "bpm": bpm})
    r.run(100)
    r.clock.start_stop(r.ticks())
    r.run(100 + 60200)
    assert r.transport() == [(100, 0xFA)]
    ticks = r.ticks_sent()
    period = 60000.0 / (round(bpm * 100) / 100.0) / 24
    first = ticks[0]  # the grid runs from boot (tick 0 one period in), Start does not move it
    assert first == r.at(int(period + 0.5))
    ticks = [t for t in ticks if t <= first + 60000]
    # One minute: bpm * 24 ticks, each within half a ms of its ideal time (ms rounding only).
    assert len(ticks) == int(60000 / period + 1e-6) + 1
    for k, t in enumerate(ticks):
        assert abs(t - (first + k * period)) <= 0.5 + 1e-9, (k, t)


def test_internal_clock_runs_while_stopped_but_the_jack_only_while_running():
    r = Rig({"master": "internal"})
    r.run(1000)
    # F8 goes out all the time (downstream knows the tempo), from one period after boot.
    assert len(r.ticks_sent()) == 47
    assert r.clock_out.changes == [] and not r.clock.running
    r.clock.start_stop(r.ticks())
    r.run(2000)
    assert r.clock.running and r.run_out.value
    assert len(r.clock_out.rises()) == 8  # 4 PPQN, 1 s at 120 BPM
    r.clock.start_stop(r.ticks())
    r.run(3000)
    assert r.transport() == [(1000, 0xFA), (2000, 0xFC)]
    assert not r.run_out.value
    assert r.clock_out.rises(r.at(2000)) == []
    assert len([t for t in r.ticks_sent() if t >= r.at(2000)]) == 48


@pytest.mark.parametrize(
    "resolution, per_beat", [(1, 1), (2, 2), (4, 4), (24, 24), (48, 48), ("1/8", 2), ("1/4", 1), ("1/2", 0.5), ("1bar", 0.25)]
)
@pytest.mark.parametrize("bpm", [40, 120, 300])
def test_internal_resolutions_count_and_spacing(resolution, per_beat, bpm):
    r = Rig({"master": "internal", "bpm": bpm, "resolution": resolution})
    r.clock.start_stop(r.ticks())
    beats = 8
    beat_ms = 60000.0 / bpm
    tick0 = int(beat_ms / 24 + 0.5)  # the grid's next tick after the Start (made at boot)
    r.run(tick0 + int(beats * beat_ms) - 1)
    rises = r.clock_out.rises()
    assert len(rises) == int(beats * per_beat)
    assert rises[0] == r.at(tick0)  # the first tick after Start is a pulse
    spacing = beat_ms / per_beat
    for k, t in enumerate(rises):
        assert abs(t - (r.at(tick0) + k * spacing)) <= 0.5 + 1e-9
    # Width: pulse_ms, never more than half the pulse period (and the jack is low between).
    cap = max(1, int(spacing / 2))
    assert set(r.clock_out.widths()) <= {min(5, cap)}


def test_reset_and_run_on_internal_start():
    r = Rig({"master": "internal", "reset_ms": 7})
    r.run(50)
    r.clock.start_stop(r.ticks())
    r.run(400)
    assert r.reset_out.changes == [(r.at(50), True), (r.at(57), False)]
    assert r.run_out.changes == [(r.at(50), True)]
    assert r.clock_out.rises()[0] == r.at(63)  # tick 0: the grid's next tick (21, 42, 63 ms)


def test_tap_tempo_changes_the_tempo_from_the_next_tick_without_a_double_or_missing_tick():
    r = Rig({"master": "internal", "bpm": 90})
    r.clock.start_stop(r.ticks())
    r.run(1000)
    for k in range(5):
        r.clock.tap(r.ticks())
        r.run(1000 + (k + 1) * 500)  # taps 500 ms apart: 120 BPM
    assert r.clock.bpm_x100() == 12000
    r.run(6000)
    ticks = r.ticks_sent()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert min(gaps) >= 20 and max(gaps) <= 28  # 120 BPM = 20.8 ms, 90 BPM = 27.8 ms
    assert all(20 <= g <= 21 for g in gaps[-24:])
    assert r.transport() == [(0, 0xFA)]


def test_tap_run_restarts_after_a_long_gap_and_clamps():
    r = Rig({"master": "internal"})
    r.clock.tap(r.ticks())
    r.run(100)
    r.clock.tap(r.ticks())  # 100 ms: 600 BPM, clamped
    assert r.clock.bpm_x100() == 30000
    r.run(5000)
    r.clock.tap(r.ticks())  # after 4.9 s: a new run, tempo unchanged
    assert r.clock.bpm_x100() == 30000
    r.run(6000)
    r.clock.tap(r.ticks())
    assert r.clock.bpm_x100() == 6000


# -- following an external master ------------------------------------------------------------


def test_follow_first_tick_after_start_pulses_at_once_then_every_6_ticks():
    r = Rig()
    stream, period = follow_stream(120, 1000, 2)
    r.run(3100, master=stream)
    assert r.sent == []  # following: the merger forwards the master's bytes, the clock adds none
    rises = r.clock_out.rises()
    f8_after_start = [t for t, b in stream if b == 0xF8 and t >= 1000]
    assert rises[0] == r.at(f8_after_start[0])
    assert rises == [r.at(t) for t in f8_after_start[::6]]
    assert r.reset_out.changes == [(r.at(1000), True), (r.at(1005), False)]
    assert r.run_out.changes == [(r.at(1000), True)]  # still running: the clock goes on to 3 s


def test_follow_clock_while_stopped_gives_a_tempo_but_no_pulses():
    r = Rig()
    stream = [(int(round(k * 60000 / 97 / 24)), 0xF8) for k in range(200)]
    r.run(2000, master=stream)
    assert r.clock_out.changes == [] and r.run_out.changes == []
    assert abs(r.clock.bpm_x100() - 9700) <= 25


def test_follow_stop_ends_the_pulses_while_the_master_clock_goes_on():
    # An Elektron box keeps sending clock after Stop: the ticks still give the tempo, and the
    # jacks stay quiet until the next Start.
    r = Rig({"resolution": 24})  # a pulse on every tick
    period = 60000.0 / 120 / 24
    seq = [(0, 0xFA)] + [(int(round(1 + k * period)), 0xF8) for k in range(60)]
    stop_at = seq[24][0] + 5
    seq.append((stop_at, 0xFC))
    seq.sort()
    r.run(seq[-1][0] + 100, master=seq)
    before = [t for t, b in seq if b == 0xF8 and t < stop_at]
    assert r.clock_out.rises() == [r.at(t) for t in before]
    assert r.run_out.changes == [(r.at(0), True), (r.at(stop_at), False)]
    assert abs(r.clock.bpm_x100() - 12000) <= 100


def test_follow_stop_halts_and_continue_resumes_the_phase():
    r = Rig({"resolution": 1})  # a pulse every 24 ticks
    period = 60000.0 / 120 / 24
    seq = [(0, 0xFA)] + [(int(round(1 + k * period)), 0xF8) for k in range(30)]  # 30 ticks
    stop_at = seq[-1][0] + 5
    seq.append((stop_at, 0xFC))
    seq.append((stop_at + 200, 0xFB))  # Continue without Song Position: from tick 30
    seq += [(int(round(stop_at + 201 + k * period)), 0xF8) for k in range(30)]
    r.run(stop_at + 1000, master=seq)
    rises = r.clock_out.rises()
    # Pulses at ticks 0 and 24, then (after the Continue at tick 30) at tick 48 = 18th tick on.
    assert rises == [r.at(seq[1][0]), r.at(seq[25][0]), r.at(seq[33 + 18][0])]
    assert r.reset_out.rises() == [r.at(0)]  # Continue away from 0: no reset
    assert r.run_out.changes == [(r.at(0), True), (r.at(stop_at), False), (r.at(stop_at + 200), True)]


@pytest.mark.parametrize("song, first_pulse_tick", [(0, 0), (1, 18), (2, 12), (4, 0), (5, 18)])
def test_follow_song_position_sets_the_pulse_phase(song, first_pulse_tick):
    r = Rig({"resolution": 1})
    stream, period = follow_stream(120, 500, 2, song=song)
    r.run(2600, master=stream)
    ticks = [t for t, b in stream if b == 0xF8 and t >= 500]
    rises = r.clock_out.rises()
    # 1 PPQN: a pulse where the position (song * 6 ticks) is a whole beat.
    assert rises[0] == r.at(ticks[first_pulse_tick]), (song, rises[:2])
    assert rises[1] - rises[0] == pytest.approx(24 * period, abs=1)
    assert (r.reset_out.rises() == [r.at(500)]) == (song == 0)  # Song Position 0 + Continue


def test_follow_silent_master_drops_the_run_gate_after_a_second():
    r = Rig()
    stream, _ = follow_stream(120, 100, 1)
    last = stream[-1][0]
    r.run(last + 2000, master=stream)
    assert r.run_out.changes[-1] == (r.at(last + 1001), False)
    assert not r.clock.running


def test_follow_tempo_estimate_does_not_overshoot_a_jump():
    r = Rig()
    seq = []
    t = 0.0
    for k in range(200):
        seq.append((int(round(t)), 0xF8))
        t += 60000 / 120 / 24 if k < 100 else 60000 / 150 / 24
    estimates = []
    for ms, b in seq:
        r.run(ms + 1, master=[(ms, b)])
        estimates.append(r.clock.bpm_x100())
    after = estimates[100:]
    assert all(a <= b + 30 for a, b in zip(after, after[1:]))  # rises to the new tempo ...
    assert max(after) <= 15000 + 40  # ... and never beyond it (ms quantization: +-0.3 %)
    assert abs(after[-1] - 15000) <= 40
    assert abs(estimates[99] - 12000) <= 30


@pytest.mark.parametrize("bpm", [20, 120, 300])
def test_follow_48_ppqn_one_pulse_between_ticks_and_no_double_trigger(bpm):
    r = Rig({"resolution": 48})
    start = 3100  # after a beat of clock while stopped (3 s at 20 BPM)
    stream, period = follow_stream(bpm, start, 8 * 60.0 / bpm)
    r.run(start + 8 * 60000 // bpm + 10, master=stream)
    ticks = [r.at(t) for t, b in stream if b == 0xF8 and t >= start]
    rises = r.clock_out.rises()
    on_ticks = [t for t in rises if t in ticks]
    halves = [t for t in rises if t not in ticks]
    assert on_ticks == ticks
    # One pulse halfway between every two ticks (from the tempo estimate), never on a tick.
    for a, b in zip(ticks, ticks[1:]):
        between = [h for h in halves if a < h < b]
        assert len(between) == 1, (a, b, between)
        assert abs(between[0] - (a + b) / 2) <= 1.5
    widths = r.clock_out.widths()
    assert max(widths) <= max(1, int(period / 4))  # half the 48 PPQN period at most


def test_follow_48_ppqn_tempo_doubling_never_puts_a_half_pulse_on_a_tick():
    r = Rig({"resolution": 48})
    seq = [(0, 0xFA)]
    t = 1.0
    for k in range(120):
        seq.append((int(round(t)), 0xF8))
        t += 60000 / 60 / 24 if k < 60 else 60000 / 120 / 24
    r.run(int(t) + 50, master=seq)
    ticks = {r.at(ms) for ms, b in seq if b == 0xF8}
    rises = r.clock_out.rises()
    for a, b in zip(rises, rises[1:]):
        assert b - a >= 4, (a - r.t0, b - r.t0)  # every pulse apart: no double trigger
    assert len([x for x in rises if x in ticks]) == 120
    widths = r.clock_out.widths()
    assert all(w >= 1 for w in widths)


# -- clock in ------------------------------------------------------------------------------------


def jack_pulses(times, width=5):
    out = []
    for t in times:
        out.append((t, True))
        out.append((t + width, False))
    return out


def test_clock_in_start_ticks_between_pulses_and_stop_on_silence():
    r = Rig({"master": "clock_in", "bpm": 120})
    edges = [100 + 125 * k for k in range(16)]  # 4 PPQN at 120 BPM, 2 s
    r.run(edges[-1] + 1200, jack=jack_pulses(edges))
    assert r.transport() == [(100, 0xFA), (edges[-1] + 1001, 0xFC)]
    ticks = r.ticks_sent()
    assert len(ticks) == 6 * len(edges)  # 6 MIDI ticks per pulse, none lost or added
    assert [ticks[6 * k] for k in range(16)] == [r.at(e) for e in edges]  # each pulse's tick at once
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert all(20 <= g <= 21 for g in gaps)
    assert r.clock.bpm_x100() == 12000
    assert r.clock_out.rises() == [r.at(e) for e in edges]  # 4 PPQN out: one per pulse in
    assert r.run_out.changes == [(r.at(100), True), (r.at(edges[-1] + 1001), False)]


def test_clock_in_speeding_up_sends_the_owed_ticks_first():
    r = Rig({"master": "clock_in", "bpm": 60})  # the first pulse's ticks are spaced for 60 BPM
    edges = [100, 225, 350, 475, 600, 700, 800, 900, 1000]  # 120 BPM, then 150 BPM
    r.run(1100, jack=jack_pulses(edges))
    ticks = r.ticks_sent()
    assert len(ticks) == 6 * len(edges)
    assert ticks == sorted(ticks)
    for e in edges:
        assert r.at(e) in ticks


def test_clock_in_ignores_bounce_and_start_stop_holds_it():
    r = Rig({"master": "clock_in"})
    edges = [100, 225, 350]
    # The last edge bounces: high, low 1 ms later, high again at 352 (a new rising edge).
    jack = jack_pulses(edges[:2]) + [(350, True), (351, False), (352, True), (355, False)]
    r.run(470, jack=jack)
    ticks = r.ticks_sent()
    assert len(ticks) == 3 * 6  # the bounce made no pulse of its own
    assert ticks[12:] == [r.at(t) for t in (350, 371, 392, 412, 433, 454)]
    r.clock.start_stop(r.ticks())
    r.run(1000, jack=jack_pulses([475, 600, 725, 850]))
    assert r.transport() == [(100, 0xFA), (470, 0xFC)]
    assert not r.clock.running
    r.clock.start_stop(r.ticks())  # listen again: the next pulse starts
    r.run(1200, jack=jack_pulses([1100]))
    assert r.transport()[-1] == (1100, 0xFA)


# -- switching presets ---------------------------------------------------------------------------


def test_switch_internal_bpm_while_running_keeps_every_tick():
    r = Rig({"master": "internal", "bpm": 120})
    r.clock.start_stop(r.ticks())
    r.run(1010)
    clock_setup.configure(r.clock, clock_settings(master="internal", bpm=60))
    r.run(3000)
    ticks = r.ticks_sent()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert min(gaps) >= 20 and max(gaps) <= 42
    assert gaps[-1] in (41, 42) and r.clock.running
    assert r.transport() == [(0, 0xFA)]  # no Start or Stop sent by the switch


def test_switch_follow_to_internal_takes_over_one_period_after_the_last_tick():
    r = Rig()
    stream, period = follow_stream(120, 600, 2)
    r.run(1120, master=stream)
    last = max(t for t, b in stream if b == 0xF8 and t < 1120)
    rises_before = len(r.clock_out.rises())
    clock_setup.configure(r.clock, clock_settings(master="internal", bpm=120))
    r.run(2120)
    ticks = r.ticks_sent()
    assert ticks[0] - r.at(last) in (20, 21)  # no double, no gap
    assert r.clock.running and r.transport() == []
    assert len(r.clock_out.rises()) > rises_before  # the jack carries on


def test_switch_resolution_keeps_the_bar_phase():
    r = Rig({"master": "internal", "resolution": 4})
    r.clock.start_stop(r.ticks())
    r.run(530)  # tick 0 at 21 ms: 25 ticks in
    clock_setup.configure(r.clock, clock_settings(master="internal", resolution=1))
    r.run(2100)
    rises = r.clock_out.rises(r.at(530))
    # 1 PPQN: pulses on the beat grid of the original Start (tick 48 at 1021 ms, 72 at 1521).
    assert [t - r.t0 for t in rises] == [1021, 1521, 2021]


@pytest.mark.parametrize("resolution, tpp", [(1, 24), (2, 12), (4, 6), (24, 1), ("1/8", 12), ("1/4", 24),
                                             ("1/2", 48), ("1bar", 96)])
def test_follow_every_resolution_pulses_on_its_tick_grid(resolution, tpp):
    r = Rig({"resolution": resolution})
    stream, period = follow_stream(150, 500, 6.4)  # 16 beats at 150 BPM
    r.run(7000, master=stream)
    ticks = [r.at(t) for t, b in stream if b == 0xF8 and t >= 500]
    assert r.clock_out.rises() == ticks[::tpp]
    cap = max(1, int(tpp * period / 2))
    assert set(r.clock_out.widths()) <= {min(5, cap) - 1, min(5, cap)}


def test_switch_internal_to_follow_carries_the_running_state_to_the_new_master():
    r = Rig({"master": "internal"})
    r.clock.start_stop(r.ticks())
    r.run(1000)
    before = len(r.clock_out.rises())
    clock_setup.configure(r.clock, clock_settings(master="in1"))
    # The new master's clock (already playing: no Start) drives the jack from its next tick.
    stream = [(int(round(1010 + k * 62.5 / 3)), 0xF8) for k in range(48)]
    r.run(2100, master=stream)
    sent_after = [t for t in r.ticks_sent() if t > r.at(1000)]
    assert sent_after == []  # the box stopped making clock at the switch
    rises = r.clock_out.rises(r.at(1000))
    assert len(rises) == 8 and r.clock.running and before == 8
    assert r.run_out.changes == [(r.at(0), True)]  # the run gate never dropped


def test_switch_clock_in_to_internal_carries_on_from_the_last_tick():
    r = Rig({"master": "clock_in"})
    edges = [100 + 125 * k for k in range(8)]
    r.run(1100, jack=jack_pulses(edges))
    last = r.ticks_sent()[-1]
    clock_setup.configure(r.clock, clock_settings(master="internal", bpm=120))
    r.run(2000)
    ticks = r.ticks_sent()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert ticks[ticks.index(last) + 1] - last in (20, 21)
    assert 20 <= min(gaps) and max(gaps) <= 21
    assert r.transport() == [(100, 0xFA)] and r.clock.running


# -- scheduling --------------------------------------------------------------------------------


def test_idle_following_clock_is_never_serviced():
    r = Rig()
    r.run(5000)
    assert r.calls == 0  # nothing due: app never calls service
    assert ((r.ticks() - r.clock.due) & MASK) >= HALF


@pytest.mark.parametrize("settings", [{"master": "internal", "resolution": 48, "bpm": 133}, {"resolution": 48}])
def test_due_gate_never_delays_anything(settings):
    # The same run with service() called every pass gives the same bytes and edges.
    out = []
    for gate in (True, False):
        r = Rig(settings, gate=gate)
        stream, _ = follow_stream(97, 300, 2)
        r.run(200, master=stream)
        r.clock.start_stop(r.ticks())
        r.run(3000, master=[x for x in stream if x[0] >= 200])
        out.append((r.sent, r.clock_out.changes, r.reset_out.changes, r.run_out.changes))
    assert out[0] == out[1]
    assert out[0][1]


# -- end to end: the unchanged firmware in the simulator --------------------------------------------

NS = 1_000_000


def sim_bytes(result, port):
    return [(t / NS, b) for t, b in result.outputs[port]]


def signal_changes(result, name):
    return [(t / NS, v) for t, n, v in result.signals if n == name and t > 0]


def test_sim_internal_master_sends_start_and_clock_and_drives_the_jacks():
    res = bc.simulate_clock(bc.clock_config("internal", 120, 4),
                            inputs={"in1": bc.midi_clock_lines(100, 50, 1)},  # ignored: internal
                            actions=[(200.4, "start_stop"), (1200.4, "start_stop")], until_ms=1500)
    out = sim_bytes(res, "out1")
    assert {b for _, b in out} == {0xF8, 0xFA, 0xFC}  # nothing of in1's clock or Start
    fa = [t for t, b in out if b == 0xFA]
    fc = [t for t, b in out if b == 0xFC]
    assert len(fa) == 1 and len(fc) == 1 and 200.4 < fa[0] < 201.5 and 1200.4 < fc[0] < 1201.5
    ticks = [t for t, b in out if b == 0xF8]
    running = [t for t in ticks if fa[0] < t < fc[0]]
    assert len(running) == 48  # 1 s at 120 BPM
    # 20.8 ms apart, give or take the ms rounding of the grid and the output's pacing.
    assert all(19.5 <= b - a <= 21.5 for a, b in zip(running, running[1:]))
    edges = [t / NS for t in bc.rising_edges(res)]
    assert len(edges) == 8 and all(abs(b - a - 125) < 0.25 for a, b in zip(edges, edges[1:]))
    assert edges[0] < running[0] < edges[0] + 1  # tick 0's pulse, with its F8 (on the wire 0.32 ms)
    assert 0 < edges[0] - fa[0] <= 21  # tick 0 is the running grid's next tick after the Start
    assert [t for t, v in signal_changes(res, "run")] == pytest.approx([fa[0] - 0.32, fc[0] - 0.32], abs=0.4)
    reset = signal_changes(res, "reset")
    assert len(reset) == 2 and reset[0][1] > 0 and 4.5 < reset[1][0] - reset[0][0] < 5.5
    assert [b for _, b in sim_bytes(res, "usb")][:1] == [0xF8]  # USB gets the box's clock too


@pytest.mark.parametrize("resolution, per_beat", [(1, 1), (2, 2), (4, 4), (24, 24), (48, 48), ("1/8", 2),
                                                  ("1/4", 1), ("1/2", 0.5), ("1bar", 0.25)])
def test_sim_internal_resolutions(resolution, per_beat):
    res = bc.simulate_clock(bc.clock_config("internal", 150, resolution), actions=[(100, "start_stop")],
                            until_ms=100 + 3200 - 1)  # 8 beats at 150 BPM
    edges = [t / NS for t in bc.rising_edges(res)]
    assert len(edges) == int(8 * per_beat)
    spacing = 400 / per_beat
    loop = res.end_ns / res.passes / NS
    # On the grid within the ms rounding (0 when the spacing is whole ms) and a loop pass.
    rounding = 0 if spacing == int(spacing) else 0.5
    if len(edges) >= 3:
        assert bc.grid_jitter(bc.rising_edges(res), spacing * NS)["max_ms"] <= rounding + loop
    else:
        assert abs(edges[1] - edges[0] - spacing) <= 2 * (rounding + loop)
    clock = signal_changes(res, "clock")
    widths = [b[0] - a[0] for a, b in zip(clock[::2], clock[1::2])]
    assert all(min(5, max(1, int(spacing / 2))) - 0.3 < w < min(5, max(1, int(spacing / 2))) + 0.3 for w in widths)


def test_sim_follow_auto_master_pulses_at_once_and_forwards_its_clock():
    lines = bc.midi_clock_lines(120, 300, 2)
    res = bc.simulate_clock(bc.clock_config("auto", 120, 4), inputs={"in1": lines}, until_ms=2500)
    arrivals = [t / NS for t, b in res.inputs["in1"] if b == 0xF8]
    after_start = [t for t in arrivals if t > 300]
    edges = [t / NS for t in bc.rising_edges(res)]
    loop = res.end_ns / res.passes / NS
    assert len(edges) == len(after_start[::6])
    for e, t in zip(edges, after_start[::6]):
        # Within two loop periods of the F8 having arrived: a lone byte on a UART input comes
        # out of the read after the one it arrived before (host_tools/sim/uart.py, as
        # CircuitPython's; the board engine: 0.33-0.75 ms with the input shifted by 0-0.3 ms,
        # tests/test_board_engine.py).
        assert 0 < e - t <= 2 * loop + 0.05
    assert [b for _, b in sim_bytes(res, "out2")].count(0xF8) == len(arrivals)  # forwarded, all
    assert [b for _, b in sim_bytes(res, "out2") if b != 0xF8] == [0xFA]
    assert res.counters["clock_bpm"] == pytest.approx(120, abs=0.3)


def test_sim_named_master_ignores_other_inputs_transport_and_clock():
    master = bc.midi_clock_lines(120, 300, 1.5)
    other = [(250 * NS, b"\xfa")] + [(int(252 * NS + k * 31.25 * NS), b"\xf8") for k in range(40)] + [(900 * NS, b"\xfc")]
    res = bc.simulate_clock(bc.clock_config("in2", 120, 24), inputs={"in1": other, "in2": master}, until_ms=1900)
    edges = [t / NS for t in bc.rising_edges(res)]
    master_ticks = [t / NS for t, b in res.inputs["in2"] if b == 0xF8 and t > 300 * NS]
    assert len(edges) == len(master_ticks)  # 24 PPQN: one pulse per tick of in2, none of in1
    assert [t for t, v in signal_changes(res, "run")][:1] == pytest.approx([300.2], abs=0.3)
    out = [b for _, b in sim_bytes(res, "out1")]
    assert out.count(0xFA) == 1 and out.count(0xFC) == 0


def test_sim_clock_in_jack_is_the_master():
    edges_in = [100 + 125 * k for k in range(12)]
    jack = [(t, True) for t in edges_in] + [(t + 5, False) for t in edges_in]
    res = bc.simulate_clock(bc.clock_config("clock_in", 120, 4), inputs={"in1": bc.midi_clock_lines(90, 50, 2)},
                            jack=sorted(jack), until_ms=edges_in[-1] + 1300)
    out = sim_bytes(res, "out1")
    assert [b for _, b in out if b != 0xF8] == [0xFA, 0xFC]  # in1's clock is dropped
    ticks = [t for t, b in out if b == 0xF8]
    assert len(ticks) == 6 * len(edges_in)
    edges = [t / NS for t in bc.rising_edges(res)]
    assert len(edges) == len(edges_in)
    loop = res.end_ns / res.passes / NS
    for e, t in zip(edges, edges_in):
        assert 0 <= e - t <= loop + 0.05  # the clock jack follows the clock-in jack within a pass
    assert res.counters["clock_bpm"] == pytest.approx(120, abs=0.01)


def test_sim_preset_switch_keeps_the_clock_running_without_a_glitch():
    cfg = bc.clock_config("internal", 120, 4, more=[{"master": "internal", "bpm": 100, "analog": {"resolution": 24}}])
    res = bc.simulate_clock(cfg, actions=[(100, "start_stop"), (1010.5, lambda box, now: box.select_preset(1))],
                            until_ms=2500)
    ticks = [t for t, b in sim_bytes(res, "out1") if b == 0xF8]
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert min(gaps) > 19.5 and max(gaps) < 25.7  # 120 BPM 20.8 ms, then 100 BPM 25 ms: no double, no gap
    assert [b for _, b in sim_bytes(res, "out1") if b != 0xF8] == [0xFA]
    edges = [t / NS for t in bc.rising_edges(res)]
    after = [e for e in edges if e > 1011]
    assert len(after) == len([t for t in ticks if t > 1011.5]) and [e for e in edges if e < 1010] != []


def test_summary_json_reports_clock_jitter_and_f8_delay(tmp_path):
    from host_tools.sim import report

    res = bc.simulate_clock(bc.clock_config("auto"), inputs={"in1": bc.midi_clock_lines(120, 300, 2)}, until_ms=2400)
    data = report.write_outputs(res, str(tmp_path), plot=False)
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["clock"] == data["clock"]
    c = saved["clock"]
    assert c["edges"] == 16 and c["reset_pulses"] == 1
    assert c["jitter_ms"]["period_ms"] == pytest.approx(125, abs=0.01)
    assert c["jitter_ms"]["max_ms"] <= saved["loop"]["mean_period_ms"]
    # A pass or two (a lone UART byte is read one pass late; the board engine: 0.33-0.75 ms).
    assert c["f8_to_edge_ms"]["count"] == 16 and 0 < c["f8_to_edge_ms"]["max_ms"] <= 0.5
    assert c["bpm"] == pytest.approx(120, abs=0.3)


def test_sim_panel_chord_starts_and_stops_the_internal_clock():
    # The front panel's start/stop (buttons 3 and 4 pressed together, firmware/panel.py).
    events = []
    for t in (300, 1300):
        events += [(t * NS, "press", "button3"), ((t + 20) * NS, "press", "button4"),
                   ((t + 150) * NS, "release", "button3"), ((t + 150) * NS, "release", "button4")]
    res = bc.simulate_clock(bc.clock_config("internal", 120, 4), events=events, until_ms=2000)
    transport = [(t, b) for t, b in sim_bytes(res, "out1") if b != 0xF8]
    assert [b for _, b in transport] == [0xFA, 0xFC]
    assert 320 < transport[0][0] < 360 and 1320 < transport[1][0] < 1360  # after the debounce
    edges = [t / NS for t in bc.rising_edges(res)]
    assert len(edges) == 8 and transport[0][0] < edges[0] + 21 and edges[-1] < transport[1][0]


def _flash_stall(box, now):
    # A write to the NVM: the simulator stalls the loop for the flash erase and program (51 ms).
    box.panel.nvm[0:3] = bytes(3)


def test_sim_clock_survives_a_stalled_loop():
    # A flash write at 2060 ms stalls the loop for 51 ms (the panel never stores a preset while
    # the clock runs; the stall is written directly). The ticks due meanwhile go out at once
    # afterwards: the count keeps to the grid.
    cfg = bc.clock_config("internal", 120, 24, more=[{"master": "internal", "bpm": 120, "analog": {"resolution": 24}}])
    res = bc.simulate_clock(cfg, actions=[(50, lambda box, now: box.select_preset(1)), (100, "start_stop"),
                                          (2060, _flash_stall)], until_ms=3000)
    ticks = [t for t, b in sim_bytes(res, "out1") if b == 0xF8]
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert res.nvm_writes == 1 and 51 < max(gaps) < 51.4 + 21  # the stall is there ...
    first = ticks[0]
    late = [t for t in ticks if t > 2200]
    # ... and after it every tick is back on the grid set before it (tick n at first + n * P).
    for t in late:
        n = round((t - first) / (500 / 24))
        assert abs(t - first - n * 500 / 24) < 1.6
    assert len(ticks) == round((ticks[-1] - first) / (500 / 24)) + 1  # none lost


def test_grid_jitter_measure():
    ms = NS
    grid = [round(1000 * ms + k * 20.8333 * ms) for k in range(50)]
    j = bc.grid_jitter(grid, 20.8333 * ms)
    assert j["max_ms"] < 0.001 and j["edges"] == 50
    shaken = [t + (0.3 * ms if k % 2 else -0.3 * ms) for k, t in enumerate(grid)]
    j = bc.grid_jitter(shaken)
    assert j["period_ms"] == pytest.approx(20.8333, abs=0.01)
    assert j["max_ms"] == pytest.approx(0.3, abs=0.03) and j["std_ms"] == pytest.approx(0.3, abs=0.03)
    # A Stop and a Start off the old grid: a new segment, not a 7 ms error.
    restarted = grid + [grid[-1] + 507 * ms + k * 20.8333 * ms for k in range(20)]
    assert bc.grid_jitter(restarted)["max_ms"] < 0.001


# -- the PIO metronome ---------------------------------------------------------------------------
# The simulator runs board_io's metronome and one-shot programs on its PIO model (cycle-exact in
# virtual time, host_tools/sim/fakes/rp2pio.py), so these are the firmware's own timings.


def expected_edges(bpm, ppqn, start_ms, end_ms):
    # Tick 0 is the running grid's next tick after the Start, then one edge every 1/ppqn beat.
    return (end_ms - start_ms) * bpm * ppqn / 60000.0


@pytest.mark.parametrize("ppqn", [24, 48])
@pytest.mark.parametrize("bpm", [40, 120, 300])
def test_metronome_edges_and_f8_within_a_loop_period_of_the_grid(bpm, ppqn):
    res, jit = bc.internal_run(bpm, ppqn, seconds=4)  # Start at 10 ms, run to 4010 ms
    loop = bc.loop_ms(res)
    assert res.counters["clock_timer"] == "pio" and "fault" not in res.console
    assert abs(jit["edges"] - expected_edges(bpm, ppqn, 10, 4010)) <= 2
    # Edges against the ideal grid (its period the tempo's, only the offset fitted).
    assert jit["max_ms"] <= loop, (jit, loop)
    assert jit["std_ms"] <= loop / 2
    # The F8 bytes on the wire, from boot (the clock runs while stopped): one grid throughout.
    f8 = bc.midi_tick_jitter(res, bpm)
    assert f8["edges"] >= 4 * bpm * 24 / 60 and f8["max_ms"] <= loop, (f8, loop)
    # The one-shot ends every pulse: pulse_ms (5, at most a quarter tick at 48 PPQN), give or
    # take the passes that see the edge's token and the end's (a pass polling both FIFOs is
    # longer than the mean).
    tick_ms = 60000.0 / bpm / 24
    want = min(5, max(1, int(tick_ms / 4 if ppqn == 48 else tick_ms / 2)))
    clock = signal_changes(res, "clock")
    widths = [b[0] - a[0] for a, b in zip(clock[::2], clock[1::2])]
    assert widths and all(want - 0.05 <= w <= want + 0.3 for w in widths), (want, min(widths), max(widths))


def test_metronome_keeps_the_grid_for_a_minute_without_drift():
    # 133.33 BPM: a half-tick is 9375.23 us, so the remainder is carried on every word.
    bpm = 133.33
    res = bc.simulate_clock(bc.clock_config("internal", bpm, 24), actions=[(10, "start_stop")], until_ms=61010)
    loop = bc.loop_ms(res)
    edges = bc.rising_edges(res)
    period = 60e9 / bpm / 24
    jit = bc.grid_jitter(edges, period)
    assert jit["max_ms"] <= loop, jit
    n = round((edges[-1] - edges[0]) / period)
    assert len(edges) == n + 1 and n >= 60 * bpm * 24 / 60 - 1  # a minute of ticks, none lost
    # No drift: the first and the last 10 s sit on the same grid to a few us. An edge is the
    # grid plus the wait for a pass to see the metronome's token; the earliest edge of each
    # stretch is the grid plus the shortest wait. (Their means differ by up to 15 us with no
    # drift: the loop's period aliases against the grid's.)
    first = [t - k * period - edges[0] for k, t in enumerate(edges[:500])]
    last = [t - (n - 499 + k) * period - edges[0] for k, t in enumerate(edges[-500:])]
    assert abs(min(last) - min(first)) < 0.01 * NS


def tempo_gaps(res, after_ms):
    edges = [t / NS for t in bc.rising_edges(res)]
    before = [e for e in edges if e <= after_ms]
    after = [e for e in edges if e > after_ms]
    seq = before[-1:] + after
    return [b - a for a, b in zip(seq, seq[1:])]


def test_metronome_tap_tempo_takes_effect_within_two_ticks():
    # 90 BPM (27.78 ms a tick); two taps 500 ms apart make it 120 BPM (20.83 ms).
    res = bc.simulate_clock(bc.clock_config("internal", 90, 24),
                            actions=[(10, "start_stop"), (1000.3, "tap"), (1500.3, "tap")], until_ms=2500)
    loop = bc.loop_ms(res)
    assert res.counters["clock_bpm"] == 120
    assert_new_tempo_within_two_ticks(res, 1501, 60000 / 90 / 24, 60000 / 120 / 24, loop)


def assert_new_tempo_within_two_ticks(res, at_ms, old, new, loop):
    # The tick under way and the half-tick the metronome holds go out at the old tempo: the two
    # intervals from the change are old, or half old and half new; from the third, the new
    # tempo on its grid (each interval is a difference of two edges: a pass either way).
    gaps = tempo_gaps(res, at_ms)
    assert all(min(old, new) - 2 * loop <= g <= max(old, new) + 2 * loop for g in gaps[:2]), gaps[:4]
    edges = [t for t in bc.rising_edges(res) if t > at_ms * NS]
    assert bc.grid_jitter(edges[1:], new * NS)["max_ms"] <= loop, gaps[:4]


def test_metronome_preset_bpm_change_takes_effect_within_two_ticks():
    cfg = bc.clock_config("internal", 120, 24, more=[{"master": "internal", "bpm": 60, "analog": {"resolution": 24}}])
    res = bc.simulate_clock(cfg, actions=[(10, "start_stop"), (1000.5, lambda box, now: box.select_preset(1))],
                            until_ms=2500)
    loop = bc.loop_ms(res)
    assert_new_tempo_within_two_ticks(res, 1000.5, 60000 / 120 / 24, 60000 / 60 / 24, loop)
    assert [b for _, b in sim_bytes(res, "out1") if b != 0xF8] == [0xFA]  # no Start or Stop from the switch


def test_metronome_stop_and_start_no_stale_tick():
    res = bc.simulate_clock(bc.clock_config("internal", 120, 24),
                            actions=[(100.3, "start_stop"), (600.3, "start_stop"), (900.7, "start_stop")],
                            until_ms=1400)
    loop = bc.loop_ms(res)
    out = sim_bytes(res, "out1")
    fa = [t for t, b in out if b == 0xFA]
    fc = [t for t, b in out if b == 0xFC]
    assert len(fa) == 2 and len(fc) == 1
    # Start and Stop go out at once (the clock serves the panel on the next ms tick; 0.32 ms on
    # the wire).
    for sent, pressed in ((fa[0], 100.3), (fc[0], 600.3), (fa[1], 900.7)):
        assert 0.32 < sent - pressed <= 1 + 0.32 + loop
    period = 60000 / 120 / 24
    ticks = [t for t, b in out if b == 0xF8]
    # The MIDI clock runs on one grid from boot through Stop and Start (no hiccup downstream).
    assert bc.grid_jitter([t * NS for t in ticks], period * NS)["max_ms"] <= loop
    edges = [t / NS for t in bc.rising_edges(res)]
    # No pulse while stopped; after each Start the first pulse is the grid's next tick (at most
    # a tick later), then one a tick: nothing stale, nothing twice.
    assert not [e for e in edges if fc[0] - 0.32 < e < fa[1] - 0.32]
    for start, end in ((fa[0], fc[0]), (fa[1], 1400)):
        run = [e for e in edges if start - 0.32 < e < end - 0.32]
        assert 0 < run[0] - (start - 0.32) <= period + loop
        assert all(abs(b - a - period) <= 2 * loop for a, b in zip(run, run[1:]))
        # Each pulse goes with its tick's F8 (out on the wire 0.32 ms after the byte is written).
        assert all(any(0 < t - e < 0.32 + 2 * loop for t in ticks) for e in run)
    assert bc.grid_jitter(bc.rising_edges(res), period * NS)["max_ms"] <= loop  # the same grid


def test_metronome_stops_while_following_and_takes_over_on_the_grid_again():
    cfg = bc.clock_config("internal", 120, 24, more=[{"master": "in1", "analog": {"resolution": 24}}])
    res = bc.simulate_clock(cfg, actions=[(10, "start_stop"), (500.5, lambda box, now: box.select_preset(1)),
                                          (1000.5, lambda box, now: box.select_preset(0))], until_ms=1600)
    loop = bc.loop_ms(res)
    ticks = [t for t, b in sim_bytes(res, "out1") if b == 0xF8]
    last = max(t for t in ticks if t < 502)
    # Following a silent in1: no F8 from the box, no stale token from the stopped metronome.
    assert not [t for t in ticks if 502 < t < 1000.5]
    after = [t for t in ticks if t > 1000.5]
    # Back on the internal master: the next tick at once (a period since the last is long gone),
    # then the tempo's grid again, timed by the metronome.
    assert after[0] - 1000.5 <= 1 + 0.32
    assert after[0] - last > 60000 / 120 / 24
    assert bc.grid_jitter([t * NS for t in after[1:]], 60e9 / 120 / 24)["max_ms"] <= loop
    assert res.counters["clock_timer"] == "pio"


def test_without_a_metronome_the_clock_runs_on_the_ms_grid_as_before():
    # No PIO room for the metronome: board_io reports a fault and the clock keeps the ms grid.
    res, jit = bc.internal_run(120, 24, seconds=3, metronome=False)
    loop = bc.loop_ms(res)
    assert "fault: clock metronome (PIO)" in res.console and res.counters["clock_timer"] == "ms"
    assert res.led_frames  # the LEDs' neopixel_write still found a state machine
    assert abs(jit["edges"] - expected_edges(120, 24, 10, 3010)) <= 2
    assert loop < jit["max_ms"] <= 0.5 + loop  # the ms rounding, as before the metronome
    assert bc.midi_tick_jitter(res, 120)["max_ms"] <= 0.5 + loop
    clock = signal_changes(res, "clock")
    widths = [b[0] - a[0] for a, b in zip(clock[::2], clock[1::2])]
    assert all(5 - 0.3 < w < 5 + 0.3 for w in widths)


def test_metronome_back_on_the_grid_after_a_stalled_loop():
    # As test_sim_clock_survives_a_stalled_loop (a 51 ms flash write at 2060 ms): the metronome's
    # FIFO fills, it is stopped, the overdue ticks go out at once and it starts again on the grid.
    cfg = bc.clock_config("internal", 120, 24, more=[{"master": "internal", "bpm": 120, "analog": {"resolution": 24}}])
    res = bc.simulate_clock(cfg, actions=[(50, lambda box, now: box.select_preset(1)), (100, "start_stop"),
                                          (2060, _flash_stall)], until_ms=3000)
    loop = bc.loop_ms(res)
    assert res.nvm_writes == 1 and res.counters["clock_timer"] == "pio"
    period = 500 / 24
    ticks = [t for t, b in sim_bytes(res, "out1") if b == 0xF8]
    assert len(ticks) == round((ticks[-1] - ticks[0]) / period) + 1  # none lost
    edges = [t / NS for t in bc.rising_edges(res)]
    stall = max(range(1, len(edges)), key=lambda k: edges[k] - edges[k - 1])
    before, after = edges[:stall], edges[stall + 3:]  # the edges overdue went out together
    assert edges[stall + 2] - edges[stall] < 1.5
    grid = bc.grid_jitter([e * NS for e in before], period * NS)
    assert grid["max_ms"] <= loop
    # After: the grid set before the stall, to a pass (its restart is timed from a pass that
    # began just after a ms tick) and the pass that sees each token.
    offset = sum(e - round((e - before[0]) / period) * period for e in before) / len(before)
    assert all(abs(e - round((e - before[0]) / period) * period - offset) <= 2 * loop for e in after)
