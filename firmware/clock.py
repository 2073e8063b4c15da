"""Tempo, transport and the analog clock jacks (clock out, reset out, run out, clock in).

``Clock`` is built once by ``app`` from ``board_io``'s pins and configured from a preset's
``clock`` object (``firmware.defaults.DEFAULT_CLOCK`` is that object with every default;
docs/config.md).

Who calls what:
- the merger's clock master (``follow``: firmware.clock_master.ClockMaster) calls
  ``on_master(b, now)`` for every FA/FB/FC it accepted from the clock master, and for every F8
  while the clock runs; it counts the ticks (``ticks``, ``last_clock``), which
  ``follow_ticks`` takes a pass later, and calls ``song_position(beats)`` for the master's Song
  Position. The merger forwards the MIDI bytes itself; here they only drive the jacks and the
  tempo estimate.
- ``app`` calls ``service(now)`` once a pass (and again while it returns a byte): it ends
  pulses, polls the clock-in jack and, when the box is the master (``internal`` or
  ``clock_in``), returns the real-time byte (F8 FA FB FC) due now, which ``app`` hands to
  ``merger.inject_realtime``. ``due`` is the tick at which ``service`` has work next: ``app``
  skips the call while ``now`` is before it, so an idle pass costs one comparison.
- the panel calls ``tap(now)`` and ``start_stop(now)``; they only record a request that the
  next ``service`` carries out, so they are safe to call from anywhere in the loop.

Time is ``supervisor.ticks_ms()`` (docs/design.md, "CircuitPython costs": ``monotonic_ns`` allocates). The internal
clock keeps an exact rational grid: half-tick k (48 PPQN) falls at ``anchor + k * 125000 /
bpm_x100`` ms, stepped with an integer remainder, so it never drifts. The PIO metronome
(``board_io``) times it to the microsecond (the comments at ``_metronome``); without one the grid
is rounded to the ms tick (+-0.5 ms). Everything here is small ints; ``on_master`` and
``service`` allocate nothing (tests/mp_paths/clock_path.py).

Transport (the rules of docs/config.md ``clock``):
- Start: run gate high, a reset pulse, the position goes to 0; the first tick after Start is
  pulse 0 (no start lag: the pulse is written while the merger handles the F8).
- Stop: run gate low, no more clock pulses (a pulse already high ends at its length). The
  position is kept: a Continue resumes from it.
- Song Position sets the position (1 beat = 4 sixteenths = 24 ticks); a Continue then resumes
  there, with a reset pulse when the position is 0. The analog pulses keep their phase to the
  position: pulse when ``position % ticks_per_pulse == 0``.
- Internal master: ``start_stop`` sends Start (from position 0) when stopped and Stop when
  running; the box never sends Continue from the panel. MIDI clock (F8) runs all the time so
  downstream gear knows the tempo; the clock jack pulses only while running. Start goes out at
  once (run gate, reset pulse); tick 0 (and its clock pulse) is the next tick of the running
  grid, at most one tick later, so the tempo downstream never hiccups.
- Clock in: the first pulse after silence sends Start (and the tick of that pulse at once),
  6 ticks follow per 4 PPQN pulse, spaced by the measured period; no pulse for
  ``_CLOCK_IN_TIMEOUT_MS`` sends Stop. ``start_stop`` while running sends Stop and ignores the
  jack until pressed again.
- A followed master that sends no clock for ``_FOLLOW_TIMEOUT_MS`` while running is taken as
  gone: the run gate drops (the merger gives the master role up after the same time).

Pulses: ``pulse_ms`` wide, but never more than half the pulse period (at least 1 ms), so at high
rates a pulse always ends before the next. A width is counted in ms ticks from the tick the pulse
began in: an edge made by an arriving F8 (any phase within its ms) lasts pulse_ms - 1 to pulse_ms
ms; the internal clock's are pulse_ms (ended by the one-shot, or begun just after a ms tick).
48 PPQN: a pulse on every tick and one half a tick later (the exact grid when the box is master;
half the estimated period when following, dropped if the next tick comes first).

A stalled loop (a flash write, say): ticks overdue by up to ``_CATCH_UP_MS`` go out at once, so
the count stays on the grid; longer, the grid restarts from the present.
"""

from micropython import const

from firmware.ticks import ticks_diff

try:
    from typing import Any, Callable  # for type checkers only: CircuitPython has no typing
except ImportError:
    pass

# Wrap-safe comparisons on 29-bit ticks, inlined where they are hot (firmware/ticks.py).
_MASK = const(0x1FFFFFFF)
_HALF = const(0x10000000)
# "Nothing due": 18 hours ahead. Not further: an event overdue after a stalled pass must still
# compare as earlier than this, which holds while the two are less than _HALF apart.
_FAR = const(0x04000000)

MODE_FOLLOW = const(0)  # "auto" or an input: the merger forwards the master's clock
MODE_INTERNAL = const(1)  # the box's own tempo
MODE_CLOCK_IN = const(2)  # tempo from the clock-in jack

PPQN = const(24)
_BAR_TICKS = const(96)  # the position is kept modulo a 4/4 bar: enough for every resolution
BPM_X100_MIN = const(2000)
BPM_X100_MAX = const(30000)

_EST_TICKS = const(24)  # tempo estimate: a moving average over one beat of ticks
_EST_GAP_MS = const(500)  # longer than a tick at 20 BPM (125 ms): the clock stopped; start over
_FOLLOW_TIMEOUT_MS = const(1000)  # as the merger's CLOCK_TIMEOUT_MS

CLOCK_IN_PPQN = const(4)  # pulses per quarter note expected on the clock-in jack
_IN_TICKS = const(6)  # MIDI ticks per clock-in pulse: PPQN // CLOCK_IN_PPQN
_IN_HALVES = const(12)
_CLOCK_IN_EDGES = const(4)  # clock-in tempo: average over the last 4 periods (a beat)
_CLOCK_IN_TIMEOUT_MS = const(1000)  # > 750 ms, a pulse period at 20 BPM
_CLOCK_IN_MIN_MS = const(4)  # a rising edge closer than this to the last is contact bounce

_TAP_TIMEOUT_MS = const(3000)  # a quarter note at 20 BPM; a longer gap starts a new tap run
_TAP_AVG = const(4)  # average of the last 4 intervals

# A stalled loop (a flash write, a collection): ticks overdue by up to this go out at once, so
# the count stays on the grid; further behind, the grid restarts from now (no flood of F8).
_CATCH_UP_MS = const(100)

_REQ_START_STOP = const(1)
_REQ_TEMPO = const(2)

# The PIO timers (board_io's programs): a metronome word n counts n + 1 us; a one-shot word n
# ends n + 4 us after it is written.
_METRO_US = const(1)
_SHOT_US = const(4)
_FIFO = const(4)  # tokens the metronome's RX FIFO holds; when full, it stalls
_MIN_US = const(200)  # the shortest interval written (a correction after a stall may ask less)
_LEAD_US = const(200)  # poll from this long before a token is due (its time is known to the us)
_LATE_MS = const(5)  # a token this late never comes: the metronome stopped; start it again


class Clock:
    """The box's clock: see the module docstring for the contract."""

    # The fields (clock_setup.init sets them, but the four __init__ sizes; annotations only:
    # nothing at run time).
    _clock_pin: Any
    _reset_pin: Any
    _run_pin: Any
    _in_pin: Any
    ticks_ms: "Callable[[], int]"
    mode: int
    poll: bool  # service() wanted every pass, not once a ms tick (clock-in jack)
    running: bool
    followed: Any  # the merger's ClockMaster (follow): it counts the master's ticks
    _phase: int  # position in ticks modulo _BAR_TICKS; the next tick's
    _at_zero: bool  # position 0 (Start, Song Position 0): a Continue resets
    _asked: int
    _transport_out: int  # a transport byte to hand out (internal and clock-in masters)
    # Analog settings.
    _ticks_per_pulse: int
    _ppqn48: bool
    _pulse_ms: int
    _reset_ms: int
    # Pulses in progress.
    _pulse_on: bool
    _pulse_end: int
    _reset_on: bool
    _reset_end: int
    _half_on: bool  # 48 PPQN: a pulse between two followed ticks, from the estimate
    _half_due: int
    _pulse_len_ms: int  # ms: a tick's pulse, a half-tick's pulse, half a tick (_lengths)
    _half_len_ms: int
    _half_ms: int
    # Tempo estimate from followed ticks (MODE_FOLLOW) or clock-in pulses: us per tick.
    _tick_us: int
    _last_us: int  # the last single interval, so a tempo jump never makes a double pulse
    _ring_pos: int
    _ring_n: int  # ticks in the ring
    _last_tick: int
    _heard: int  # the last byte from the followed master
    # The generator (internal and clock-in masters): half-tick steps on an exact grid.
    _grid_on: bool
    _grid_next: int  # ticks of the next half-tick
    _half_index: int  # half-tick index: even ones are MIDI ticks
    _step_ms_int: int  # a step is _step_ms_int + _step_ms_rem / _step_den ms
    _step_ms_rem: int
    _step_den: int
    _step_ms_acc: int
    _half_stop: int  # clock in: the generator stops at this index and waits for a pulse
    _owed: int  # clock in: ticks of the last pulse still to send (the tempo went up)
    # Internal tempo.
    _bpm_x100: int
    _preset_bpm: int
    # Clock in.
    _in_high: bool
    _edge_pos: int
    _edge_n: int
    _last_edge: int
    _hold: bool
    # Tap tempo.
    _tap_pos: int
    _tap_n: int
    _tap_last: int
    _tapping: bool
    # The PIO metronome and pulse one-shot (board_io; None: the ms grid): see _metronome.
    metronome: Any
    pulse_timer: Any
    _metro_on: bool  # the metronome times the internal clock
    _metro_live: bool  # it is counting (else the ms grid runs until it starts again)
    _tokens: int  # half-ticks that ended (tokens read, or overdue) not yet handled
    _read_buf: bytearray
    _word_buf: Any  # 32-bit words for the state machines
    _metro_next_us: int  # us: the interval the metronome holds next (and again if given nothing)
    _metro_ideal_us: int  # us: that interval on the ideal grid
    _metro_error_us: int  # us: ideal minus actual end of the interval it counts now
    _metro_end_ms: int  # ms + us: when that interval ends (the next half-tick)
    _metro_end_us: int
    _half_us_int: int  # a half-tick is _half_us_int + _half_us_rem / _step_den us
    _half_us_rem: int
    _half_us_acc: int
    _metro_seen_ms: int  # the ms of the last pass that ran the metronome path
    _shot_busy: int  # the one-shot times a pulse: 2 the one on the jack, 1 one gone
    _shot_from_ms: int  # ms from which its token may be there
    due: int  # service() has nothing to do before this tick
    _ring: list  # the tempo estimate's ticks
    _edges: list  # the clock-in jack's
    _taps: list  # tap tempo's

    def __init__(self, clock_out, reset_out, run_out, clock_in, ticks_ms, metronome=None, pulse_timer=None):
        # The fields, set by a start-up module (its code leaves the heap once the box runs), but
        # those sized or timed by this module's constants.
        from firmware import clock_setup

        now = clock_setup.init(self, clock_out, reset_out, run_out, clock_in, ticks_ms, metronome, pulse_timer)
        self.due = (now + _FAR) & _MASK  # service() has nothing to do before this tick
        self._ring = [0] * _EST_TICKS  # the tempo estimate's ticks
        self._edges = [0] * _CLOCK_IN_EDGES  # the clock-in jack's
        self._taps = [0] * _TAP_AVG  # tap tempo's

    # -- configuration -----------------------------------------------------------------

    def install(self, setup):
        """Apply a preset's ``clock`` object as ``clock_setup.prepare`` read it (at start-up, and
        on a preset switch while playing: nothing parsed, nothing allocated). The running state,
        the position and a pulse in progress carry over; a tick already scheduled is kept."""
        now = self.ticks_ms()
        if self._asked:
            self._requests(now)  # a panel action made under the old preset counts there
        mode, self._ticks_per_pulse, self._ppqn48, self._pulse_ms, self._reset_ms, bpm = setup
        if not self._ppqn48:
            self._half_on = False
        if bpm != self._preset_bpm:
            # A tapped tempo stays until a preset with another bpm is selected.
            self._preset_bpm = bpm
            self._bpm_x100 = bpm
        old = self.mode
        self.mode = mode
        self._ticking()
        self.poll = mode == MODE_CLOCK_IN
        if mode != MODE_INTERNAL and self._metro_on:
            self._stop_metro()
        if mode == MODE_INTERNAL:
            if old == MODE_INTERNAL and self._grid_on:
                if self._step_den != self._bpm_x100:
                    self._set_step(125000, self._bpm_x100)  # from the tick already scheduled
            else:
                # Take over from the last tick heard, one period on (never in the past), so a
                # switch neither repeats nor skips a tick.
                period = (250000000 // self._bpm_x100 + 500) // 1000
                start = (self._last_tick + period) & _MASK
                if ticks_diff(start, now) < 0:
                    start = now
                self._start_gen(start, 125000, self._bpm_x100)
                if self.metronome is not None:
                    # The metronome starts on that tick at the start of a coming ms (_arm).
                    self._metro_on = True
                    self._metro_end_ms = start
                    self._metro_end_us = 0
        elif mode == MODE_CLOCK_IN:
            if old != MODE_CLOCK_IN:
                self._grid_on = False
                self._half_stop = -1
                self._owed = 0
                self._hold = False
                self._edge_n = 0
                self._in_high = not self._in_pin.value
                self._last_edge = now
        else:
            self._grid_on = False
            if old != MODE_FOLLOW:
                self._ring_n = 0
                self._heard = now
        if mode != old:
            self._tick_us = 0  # the estimate of another source
            self._last_us = 0
        self._lengths()
        self._reschedule(now)

    # -- from the merger: the followed master ---------------------------------------------

    def follow(self, master):
        """Take the followed master's bytes from ``master`` (the merger's ClockMaster)."""
        self.followed = master
        master.sink = self
        self._ticking()

    def _ticking(self):
        # Each followed tick reaches on_master at once only while the clock follows and runs
        # (its pulse edge, its position); else the clock master only counts it.
        if self.followed is not None:
            self.followed.tick_sink = self if self.running and self.mode == MODE_FOLLOW else None

    def on_master(self, b, now):
        """The merger accepted real-time byte ``b`` (F8 FA FB FC) from the clock master. It calls
        this before it writes the byte out, so a tick does only what cannot wait here (forward
        first): its pulse edge and the position. The tempo estimate is ``follow_ticks``'s, which
        app calls in a pass of its own at the next ms tick."""
        if self.mode != MODE_FOLLOW:
            return  # the box is the master; the merger drops external clock then
        if b == 0xF8:
            # A tick while running (the clock master counted it; follow_ticks takes the count).
            self._half_on = False  # a half-tick not yet sent is dropped: never two at once
            # _tick, inlined: one call (_pulse) stands between the byte and the edge.
            phase = self._phase
            if phase % self._ticks_per_pulse == 0:
                self._pulse(now, False)
            phase += 1
            self._phase = phase if phase < _BAR_TICKS else 0
            self._at_zero = False
            return
        if self.followed.ticks:
            self.follow_ticks()  # ticks before this byte first: the order of the wire
        self._heard = now
        if b == 0xFA:
            self._start(now)
        elif b == 0xFB:
            self._continue(now)
        elif b == 0xFC:
            self._stop()
        self._reschedule(now)

    def follow_ticks(self):
        """The tempo estimate for the followed ticks the clock master counted (and at 48 PPQN
        the half-tick pulse after the last). No rescheduling: ``_pulse`` brought ``due`` forward
        for the pulse's end; the silence check left in ``due`` may be early, which costs one
        spare call."""
        master = self.followed
        n = master.ticks
        master.ticks = 0
        now = master.last_clock  # the last tick's (a Start or Continue after it took them first)
        self._heard = now
        while n:
            n -= 1
            self._estimate(now)
        if self._ppqn48 and self.running:
            self._half(now)

    def song_position(self, beats):
        """Song Position from the master: ``beats`` sixteenth notes (6 ticks each)."""
        if self.followed.ticks:
            self.follow_ticks()
        self._phase = (beats * 6) % _BAR_TICKS
        self._at_zero = beats == 0

    # -- from the panel ------------------------------------------------------------------

    def start_stop(self, now):
        """Internal master: Start when stopped, Stop when running. Clock in: Stop (and ignore the
        jack) when running, listen again when stopped. Following: nothing (the master rules)."""
        if self.mode != MODE_FOLLOW:
            self._asked |= _REQ_START_STOP
            self.due = now

    def tap(self, now):
        """A tap of the tempo button: the internal tempo follows the average of the last
        ``_TAP_AVG`` intervals; a gap over ``_TAP_TIMEOUT_MS`` starts a new run."""
        if self._tapping and 0 <= ticks_diff(now, self._tap_last) <= _TAP_TIMEOUT_MS:
            interval = ticks_diff(now, self._tap_last)
            if interval > 0:
                self._taps[self._tap_pos] = interval
                self._tap_pos = (self._tap_pos + 1) % _TAP_AVG
                if self._tap_n < _TAP_AVG:
                    self._tap_n += 1
                total = 0
                for k in range(self._tap_n):
                    total += self._taps[k]
                self._bpm_x100 = clamp(6000000 * self._tap_n // total, BPM_X100_MIN, BPM_X100_MAX)
                self._asked |= _REQ_TEMPO
                self.due = now
        else:
            self._tap_n = 0
            self._tap_pos = 0
        self._tapping = True
        self._tap_last = now

    def bpm_x100(self):
        """The tempo in hundredths of a BPM: the internal tempo, or the smoothed estimate of the
        followed clock or clock-in jack; 0 while nothing is known."""
        if self.mode == MODE_INTERNAL:
            return self._bpm_x100
        if self._tick_us > 0:
            return 250000000 // self._tick_us
        return 0

    # -- once a pass ---------------------------------------------------------------------

    def service(self, now):
        """End pulses, poll the clock-in jack, run the generator. Returns the real-time byte the
        box (as master) sends now, or 0; call again until it returns 0."""
        if ((now - self.due) & _MASK) >= _HALF:
            return 0
        n = p = -1
        if self.poll and self._metro_on and now == self._metro_seen_ms and not (self._tokens or self._asked or self._transport_out):
            # Waiting for a token, the ms's work done: only the FIFOs to look at.
            n = self.metronome.in_waiting
            p = self._shot_busy and self.pulse_timer.in_waiting
            if not (n or p):
                return 0
        if self._pulse_on and ((now - self._pulse_end) & _MASK) < _HALF:
            self._clock_pin.value = False
            self._pulse_on = False
        if self._reset_on and ((now - self._reset_end) & _MASK) < _HALF:
            self._reset_pin.value = False
            self._reset_on = False
        if self._asked:
            self._requests(now)
        b = self._transport_out
        if b:
            self._transport_out = 0
            self._reschedule(now)
            return b
        mode = self.mode
        if mode == MODE_CLOCK_IN:
            b = self._poll_in(now)
            if b:
                self._reschedule(now)
                return b
        elif mode == MODE_FOLLOW:
            if self._half_on and ((now - self._half_due) & _MASK) < _HALF:
                self._half_on = False
                if self.running:
                    self._pulse(now, True)
            if self.running and ((now - self._heard + _HALF) & _MASK) - _HALF > _FOLLOW_TIMEOUT_MS:
                self._stop()  # the master went silent: it is gone
        if self._metro_on:
            b = self._metronome(now, n, p)
        elif self._grid_on and ((now - self._grid_next) & _MASK) < _HALF:
            b = self._step(now)
        self._reschedule(now)
        return b

    # -- internals -------------------------------------------------------------------------

    def _reschedule(self, now):
        # ``due``: the earliest thing pending, so service() is skipped until then.
        mode = self.mode
        if mode == MODE_CLOCK_IN or self._transport_out or self._asked or self._owed or self._tokens:
            self.due = now  # poll the jack every pass; hand out what is queued
            return
        due = (now + _FAR) & _MASK
        if self._pulse_on:
            t = self._pulse_end
            if ((t - due) & _MASK) >= _HALF:
                due = t
        if self._reset_on:
            t = self._reset_end
            if ((t - due) & _MASK) >= _HALF:
                due = t
        if self._metro_on:
            # Poll every pass from just before a token can be there until it is seen.
            win = (now + _FAR) & _MASK
            if self._metro_live:
                win = self._metro_end_ms if self._metro_end_us >= _LEAD_US else (self._metro_end_ms - 1) & _MASK
            else:
                t = (now + 1) & _MASK  # the ms grid, until the metronome starts again
                if ((t - due) & _MASK) >= _HALF:
                    due = t
            if self._shot_busy and ((self._shot_from_ms - win) & _MASK) >= _HALF:
                win = self._shot_from_ms
            self.poll = ((now - win) & _MASK) < _HALF
            if self.poll:
                self.due = now
                return
            if ((win - due) & _MASK) >= _HALF:
                due = win
        elif self._grid_on:
            t = self._grid_next
            if ((t - due) & _MASK) >= _HALF:
                due = t
        if mode == MODE_FOLLOW and self.running:
            if self._half_on:
                t = self._half_due
                if ((t - due) & _MASK) >= _HALF:
                    due = t
            t = (self._heard + _FOLLOW_TIMEOUT_MS + 1) & _MASK
            if ((t - due) & _MASK) >= _HALF:
                due = t
        self.due = due

    def _wake(self, t):
        if ((t - self.due) & _MASK) >= _HALF:
            self.due = t

    def _requests(self, now):
        req = self._asked
        self._asked = 0
        if req & _REQ_TEMPO and self.mode == MODE_INTERNAL and self._grid_on:
            self._set_step(125000, self._bpm_x100)  # the metronome: from the next interval written
            self._lengths()
        if req & _REQ_START_STOP:
            if self.mode == MODE_INTERNAL:
                if self.running:
                    self._transport_out = 0xFC
                    self._stop()
                else:
                    # Start now; tick 0 is the grid's next tick (the clock already running
                    # while stopped keeps its tempo: no short interval downstream).
                    self._transport_out = 0xFA
                    self._start(now)
            elif self.mode == MODE_CLOCK_IN:
                if self.running:
                    self._transport_out = 0xFC
                    self._stop()
                    self._grid_on = False
                    self._owed = 0
                    self._hold = True
                else:
                    self._hold = False

    def _start(self, now):
        self.running = True
        self._ticking()
        self._phase = 0
        self._at_zero = True
        self._half_on = False
        self._reset(now)
        self._run_pin.value = True

    def _continue(self, now):
        if self.running:
            return
        self.running = True
        self._ticking()
        if self._at_zero:
            self._reset(now)
        self._run_pin.value = True

    def _stop(self):
        if self.running:
            self.running = False
            self._ticking()
            self._half_on = False
            self._run_pin.value = False

    def _reset(self, now):
        self._reset_pin.value = True
        self._reset_on = True
        self._reset_end = (now + self._reset_ms) & _MASK

    def _tick(self, now):
        # One MIDI tick while running: a pulse if the position is on the resolution's grid.
        # Returns whether it pulsed.
        phase = self._phase
        pulsed = phase % self._ticks_per_pulse == 0
        if pulsed:
            self._pulse(now, False)
        phase += 1
        self._phase = phase if phase < _BAR_TICKS else 0
        self._at_zero = False
        return pulsed

    def _half(self, now):
        # Followed clock at 48 PPQN: the pulse between this tick and the next, half an estimated
        # period on (see _lengths; the next tick cancels it if it comes first).
        if self._half_ms:
            self._half_on = True
            self._half_due = (now + self._half_ms) & _MASK
            self._wake(self._half_due)

    def _lengths(self):
        # Pulse widths from the tempo, worked out when it changes (never before an edge):
        # pulse_ms, but at most half the pulse period and at least 1 ms. The period is the
        # shorter of the average and the last interval, so after a jump to a faster tempo a
        # pulse never runs into the next one and a half-tick never lands on the next tick.
        if self.mode == MODE_INTERNAL:
            us = 250000000 // self._bpm_x100
        else:
            us = self._tick_us
            if self._last_us and self._last_us < us:
                us = self._last_us
        p = self._pulse_ms
        if not us:
            self._pulse_len_ms = p
            self._half_len_ms = p
            self._half_ms = 0
            return
        cap = us // 4000 if self._ppqn48 else us * self._ticks_per_pulse // 2000
        self._pulse_len_ms = p if p < cap else cap if cap > 1 else 1
        cap = us // 4000
        self._half_len_ms = p if p < cap else cap if cap > 1 else 1
        self._half_ms = (us + 1000) // 2000

    def _pulse(self, now, half):
        # A clock pulse: the edge at once, its end a pulse length on.
        pin = self._clock_pin
        if self._pulse_on:
            pin.value = False  # never merge two pulses into one
        pin.value = True
        self._pulse_on = True
        end = (now + (self._half_len_ms if half else self._pulse_len_ms)) & _MASK
        self._pulse_end = end
        if ((end - self.due) & _MASK) >= _HALF:
            self.due = end

    def _estimate(self, now):
        # A followed tick: the tempo is the average interval over the last _EST_TICKS ticks
        # (a moving average: after a tempo jump it moves to the new tempo and never beyond).
        # Runs after the tick's edge, on every followed F8: kept short.
        interval = ((now - self._last_tick + _HALF) & _MASK) - _HALF  # ticks_diff, inlined
        self._last_tick = now
        ring = self._ring
        pos = self._ring_pos
        n = self._ring_n
        if n == _EST_TICKS and interval <= _EST_GAP_MS:
            # Steady state: the slot about to be overwritten holds the tick a beat ago.
            us = (((now - ring[pos] + _HALF) & _MASK) - _HALF) * 1000 // _EST_TICKS
            ring[pos] = now
            pos += 1
            self._ring_pos = pos if pos < _EST_TICKS else 0
            self._tick_us = us
            us_last = interval * 1000
            self._last_us = us_last
            # Pulse lengths: once a beat, or at once when the tempo has jumped up a third.
            if pos == _EST_TICKS or us_last * 4 < us * 3:
                self._lengths()
            return
        if interval > _EST_GAP_MS:
            n = 0
        if n:
            self._last_us = interval * 1000
            span = ((now - ring[(pos - n) % _EST_TICKS] + _HALF) & _MASK) - _HALF
            if span > 0:
                self._tick_us = span * 1000 // n
        ring[pos] = now
        self._ring_pos = pos + 1 if pos + 1 < _EST_TICKS else 0
        self._ring_n = n + 1
        self._lengths()

    # The generator: half-ticks at anchor + round(k * num / den) ms.

    def _set_step(self, num, den):
        self._step_ms_int = num // den
        self._step_ms_rem = num % den
        self._step_den = den
        self._step_ms_acc = den // 2  # rounds each position to the nearest ms
        num *= 1000  # and in us, for the metronome
        self._half_us_int = num // den
        self._half_us_rem = num % den
        self._half_us_acc = den // 2

    def _start_gen(self, at, num, den):
        self._set_step(num, den)
        self._grid_next = at
        self._half_index = 0
        self._grid_on = True

    def _step(self, now):
        # One half-tick of the grid is due. Returns F8 for a tick, 0 for a half.
        if ((now - self._grid_next) & _MASK) > _CATCH_UP_MS and ((now - self._grid_next) & _MASK) < _HALF:
            self._grid_next = now  # stalled too long (_CATCH_UP_MS): restart the grid here
        k = self._half_index
        q = self._step_ms_int
        r = self._step_ms_rem
        d = self._step_den
        nxt = self._grid_next + q
        f = self._step_ms_acc + r
        if f >= d:
            f -= d
            nxt += 1
        k1 = k + 1
        if not k & 1 and not (self._ppqn48 and self.running):
            # Nothing happens between ticks at this resolution: step over the half-tick.
            nxt += q
            f += r
            if f >= d:
                f -= d
                nxt += 1
            k1 += 1
        self._step_ms_acc = f
        self._grid_next = nxt & _MASK
        self._half_index = k1 if k1 < 0x1FFFFFFF else k1 & 1  # parity kept across the wrap
        if k1 > self._half_stop >= k:
            self._grid_on = False  # clock in: the pulse's ticks are all out; wait for the next
        if k & 1:
            if self._ppqn48 and self.running and not self._at_zero:
                self._pulse(now, True)  # (none between a Start and its tick 0)
            return 0
        self._last_tick = now
        if self.running:
            self._tick(now)  # one call per generated tick; only on_master's path inlines it
        return 0xF8

    # The metronome: a PIO state machine counting microseconds (board_io's program). The clock
    # writes it each half-tick's length in us (the ms grid's rational steps, remainder carried),
    # it pushes a token as each ends, and the clock acts on a token in the pass that sees it:
    # what is left of the ms rounding is the wait for that pass.
    # - It holds one interval ahead: CircuitPython's write returns once the state machine has
    #   taken the word, so the program takes the next interval into its OSR while it counts
    #   (given nothing new it counts the last one again). The clock writes the next half-tick as
    #   each one ends, so a tempo change (tap, preset) applies after the one already taken:
    #   within a tick, and the phase carries on (a restart would lose where the grid is).
    # - The clock keeps where it is: _metro_end_ms/_metro_end_us, when the interval it counts ends (ms + us, from
    #   the ms tick it started at: a pass early at most, never late); _metro_error_us, the ideal grid's end
    #   minus that. It starts on the grid's next half-tick in a pass that began just after a ms
    #   tick, and is stopped (back to its first pull, its tokens cleared) when the box leaves the
    #   internal master, when its FIFO fills (the loop stalled: it may have stood still) and when
    #   a token is _LATE_MS overdue; then the grid goes on on the ms tick (overdue half-ticks at
    #   once, as _step) and it starts again on the next half-tick.
    # - ``poll`` (app calls ``service`` every pass) is set from _LEAD_US before a token can be
    #   there until it is seen, not all the time: each poll is a method call or two.
    # - A pulse a token starts ends on the one-shot (a second state machine started at the
    #   edge): pulse_ms to a pass, not to a ms. Without it, or while it still times the last
    #   pulse, on the ms tick a ms late.

    def _half_us(self):
        # The next half-tick of the ideal grid in us (the remainder carried).
        h = self._half_us_int
        f = self._half_us_acc + self._half_us_rem
        if f >= self._step_den:
            f -= self._step_den
            h += 1
        self._half_us_acc = f
        return h

    def _metronome(self, now, n, p):
        # Half-ticks of the internal clock: read what the metronome counted and give it its
        # next interval (or, while it does not count, take them from the ms grid), then hand
        # them out one a call (F8 for a tick). n, p: the FIFO levels if service has read them.
        # A pass in the ms after the last one's began just after the ms tick (to a pass).
        first = now == (self._metro_seen_ms + 1) & _MASK
        self._metro_seen_ms = now
        if not self._tokens:
            if self._metro_live:
                sm = self.metronome
                if n < 0:
                    n = sm.in_waiting
                if n:
                    sm.readinto(self._read_buf, end=n)
                    # Each token: the interval it counted ended; it took the next (or the same).
                    f = self._metro_end_us + n * self._metro_next_us
                    self._metro_end_ms = (self._metro_end_ms + f // 1000) & _MASK
                    self._metro_end_us = f % 1000
                    self._metro_error_us += n * (self._metro_ideal_us - self._metro_next_us)
                    self._tokens = n
                    if n < _FIFO:
                        self._feed()
                    else:
                        self._stop_metro()  # its FIFO filled: it may have stood still a while
                elif ((now - self._metro_end_ms + _HALF) & _MASK) - _HALF > _LATE_MS:
                    self._stop_metro()  # the token never came
            if not self._metro_live:
                self._arm(now, first)
        if self._shot_busy and ((now - self._shot_from_ms) & _MASK) < _HALF:
            ps = self.pulse_timer
            if p < 0:
                p = ps.in_waiting
            if p:
                ps.readinto(self._read_buf, end=1)
                if self._shot_busy == 2 and self._pulse_on:
                    self._clock_pin.value = False  # the pulse's exact end
                    self._pulse_on = False
                self._shot_busy = 0
        while self._tokens:
            self._tokens -= 1
            b = self._beat(now)
            if b:
                return b
        return 0

    def _feed(self):
        # The metronome's next interval: the ideal grid's next half-tick, less what the one it
        # counts now ends off the grid (after a start or a stall).
        h = self._half_us()
        w = h + self._metro_error_us
        if w < _MIN_US:
            w = _MIN_US
        self._metro_next_us = w
        self._metro_ideal_us = h
        self._word_buf[0] = w - _METRO_US
        self.metronome.write(self._word_buf)

    def _arm(self, now, first):
        # The metronome is not counting: half-ticks due on the ms grid go out now (those overdue
        # at once, as _step does); at a pass that began just after a ms tick (``first``) it
        # starts on the next one.
        while True:
            d = (((self._metro_end_ms - now + _HALF) & _MASK) - _HALF) * 1000 + self._metro_end_us  # us to it
            if d >= 500:
                break
            if d < -_CATCH_UP_MS * 1000:
                self._metro_end_ms = now  # stalled too long: the grid restarts here
                self._metro_end_us = 0
            self._tokens += 1
            f = self._metro_end_us + self._half_us()
            self._metro_end_ms = (self._metro_end_ms + f // 1000) & _MASK
            self._metro_end_us = f % 1000
        if first:
            # This pass began just after the ms tick: d from now is d from the tick, to a pass.
            self._word_buf[0] = d - _METRO_US
            self.metronome.write(self._word_buf)
            self._metro_live = True
            self._metro_error_us = 0
            self._feed()

    def _stop_metro(self):
        # Back to its first pull, what it counted dropped; the grid goes on from the ideal end of
        # the interval it was counting. Out of the internal master, the one-shot stops too.
        if self._metro_live:
            self._metro_live = False
            sm = self.metronome
            sm.restart()
            sm.clear_rxfifo()
            f = self._metro_end_us + self._metro_error_us
            self._metro_end_ms = (self._metro_end_ms + f // 1000) & _MASK
            self._metro_end_us = f % 1000
            self._metro_error_us = 0
        if self.mode != MODE_INTERNAL:
            self._metro_on = False
            self._tokens = 0
            if self._shot_busy:
                self._shot_busy = 0
                self.pulse_timer.restart()  # a pulse on ends on the ms tick
                self.pulse_timer.clear_rxfifo()

    def _beat(self, now):
        # One half-tick: F8 for a tick (with its pulse), a pulse between ticks at 48 PPQN. The
        # one-shot ends a pulse ms later (else the ms tick, a ms after that).
        k = self._half_index
        k1 = k + 1
        self._half_index = k1 if k1 < 0x1FFFFFFF else k1 & 1
        if k & 1:
            if not (self._ppqn48 and self.running and not self._at_zero):
                return 0
            b = 0
            ms = self._half_len_ms
            self._pulse(now, True)
        else:
            self._last_tick = now
            if not self.running or not self._tick(now):
                return 0xF8
            b = 0xF8
            ms = self._pulse_len_ms
        ps = self.pulse_timer
        if ps is not None:
            if self._shot_busy:
                self._shot_busy = 1  # still on the last pulse: this one ends on the ms tick
            else:
                self._word_buf[0] = ms * 1000 - _SHOT_US
                ps.write(self._word_buf)
                self._shot_busy = 2
                self._pulse_end = (now + ms + 1) & _MASK
                self._shot_from_ms = (now + (ms * 1000 - _LEAD_US) // 1000) & _MASK
        return b

    def _poll_in(self, now):
        # The jack's inverter: the pin reads low while the incoming clock is high.
        high = not self._in_pin.value
        if self._owed:
            self._owed -= 1
            self._last_tick = now
            self._tick(now)
            return 0xF8
        if high and not self._in_high:
            self._in_high = True
            if ticks_diff(now, self._last_edge) >= _CLOCK_IN_MIN_MS or not self._edge_n:
                return self._edge(now)
        elif not high:
            self._in_high = False
        if self.running and ticks_diff(now, self._last_edge) > _CLOCK_IN_TIMEOUT_MS:
            self._stop()
            self._grid_on = False
            self._edge_n = 0
            return 0xFC
        return 0

    def _edge(self, now):
        # A rising edge on the clock-in jack: one clock-in pulse = _IN_TICKS MIDI ticks.
        n = self._edge_n
        if n and ticks_diff(now, self._last_edge) > _CLOCK_IN_TIMEOUT_MS:
            n = 0
        edges = self._edges
        pos = self._edge_pos
        if n:
            oldest = edges[pos] if n == _CLOCK_IN_EDGES else edges[(pos - n) % _CLOCK_IN_EDGES]
            span = ticks_diff(now, oldest)
            if span > 0:
                self._tick_us = span * 1000 // (n * _IN_TICKS)
            self._last_us = ticks_diff(now, self._last_edge) * 1000 // _IN_TICKS
            self._lengths()
        edges[pos] = now
        self._edge_pos = (pos + 1) % _CLOCK_IN_EDGES
        if n < _CLOCK_IN_EDGES:
            n += 1
        self._edge_n = n
        self._last_edge = now
        if self._hold:
            return 0
        us = self._tick_us
        if self._last_us and self._last_us < us:
            us = self._last_us  # faster now: space this pulse's ticks by its own period
        if not us:
            us = 250000000 // self._bpm_x100  # first pulse: the preset's tempo until measured
        owed = 0
        if self.running and self._grid_on:
            owed = (self._half_stop + 1 - self._half_index) // 2  # ticks of the last pulse not yet sent
        self._start_gen(now, us, 2000)
        self._half_stop = _IN_HALVES - 1
        if not self.running:
            self._start(now)
            return 0xFA  # Start first; this pulse's tick 0 (due now) comes with the next call
        self._owed = owed
        if owed:
            self._owed -= 1
            self._last_tick = now
            self._tick(now)
            return 0xF8
        return self._step(now)


def clamp(v, lo, hi):
    return lo if v < lo else hi if v > hi else v
