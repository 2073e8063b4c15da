"""The CV engine: MIDI in, pitch/mod CVs, gates and drum triggers out.

The router treats the engine as its internal output ``cv`` (``router.OUTPUTS[5]``; only the
kinds in ``router.CV_KINDS`` reach it): the merger hands it whole messages, always with their
status byte, one at a time (``take(status, data1, data2)``; in its sends when nothing is queued
for the engine, as to an idle DIN wire, else from its queue), so the engine never parses bytes.
``take`` only keeps the message; ``service(now, pending)``, in a main-loop pass that began with
work pending, plays it in the next pass (``play``), so the CV work is never in the pass that
forwards the message to the DIN and USB outputs.
``configure(cv, calibration)`` installs a preset's ``cv`` section and the ``calibration``
section (docs/config.md); a preset switch installs a ``CvSetup`` that ``firmware.cv_setup``
built at start-up (``prepare``, ``install``, then ``refresh`` for the DAC codes a tick later):
every gate and drum falls and every voice is released first.

Layers, one way: messages -> parts (a mono voice with its note stack, or the poly/unison group
with ``voices.PolyAllocator``; each part plays the notes of its range, ``cv.voices[N].notes``)
-> voices (pitch in 1/256 semitone, glide, bend, mod) -> DAC codes (``firmware.dac``; integer
tables built at start-up by ``firmware.cv_setup``) and gate pins / the drums' 74HCT595.

Contracts and the reasons behind them:
- CV before gate. Every CV a message changed is flushed to the DACs at the end of ``play``;
  a gate that must rise is only marked, and rises in the next pass's
  ``service``, which ``app`` calls after that pass has polled the inputs (0.16 ms on the Pico).
  So the op-amp stage has settled (about 0.1 ms, docs/build.md section 8) before the edge, and
  the DAC costs at most one I2C transaction per chip per pass however many notes arrived.
- Retrigger dip (legato off, a new note while the gate is high): the gate falls at once and
  rises on the first pass at least ``_RETRIGGER_MS`` ms ticks later: a dip of more than 1 ms and at
  most 2 ms plus one pass. The same holds for a note-on that comes less than that after its
  voice's gate fell (a sequencer's note-off and next note-on arrive together): every rising
  edge follows more than 1 ms of low. Yarns makes 0.5 ms with a timer interrupt; here only
  ``supervisor.ticks_ms`` reads time without allocating (``time.monotonic_ns`` allocates 32 B a
  call on the board), and a busy wait would stall the inputs (a PIO FIFO lasts 1.3 ms). One
  tick would allow a dip of a few microseconds when the tick happens to turn right after the
  fall, too short for a module that samples its gate input; two ticks guarantee 1 ms.
- Every gate stays up more than 1 ms (``_MIN_GATE_MS``), however soon its note ends, so no
  note is silently lost.
- Drum triggers end on the first pass at least ``trigger_ms`` ticks after they started: a length
  between trigger_ms - 1 and trigger_ms plus one pass.
- Glide moves the pitch every ``GLIDE_STEP_MS`` ms from where it is to the new note, linear in
  pitch (exponential in Hz, as 1 V/oct portamento is), reaching it ``glide_ms`` after the note.
  With ``legato`` on, only overlapping notes glide (as in Yarns); otherwise every note does.
- Sustain, as Yarns does it (part.cc: the hold pedal makes a part ignore note-offs, marking the
  keys; lifting it releases the marked keys): CC 64 >= 64 puts a channel's pedal down, < 64
  lifts it. A key released while it is down keeps its note sounding, and still counts as held
  (priority, allocation, a returning mono voice); pressed again it is an ordinary held key.
  Lifting the pedal ends every note it held, as their note-offs would have, in every mode.
  All notes off (CC 123/120), reset all controllers (CC 121), Stop, Reset and a preset switch
  lift it too, so no gate can stay up for a pedal nobody will lift. Drums ignore it.
- Note ranges: a part takes a note-on, a note-off and its sustain only for notes in its range
  (the received note, before ``transpose``). Two parts on one channel with disjoint ranges
  split the keyboard; overlapping ranges layer it.
- Everything per message is integer arithmetic on preallocated arrays: nothing allocates.
"""


from micropython import const

from firmware.dac import Dac
from firmware.ticks import ticks_diff
from firmware.voices import ALLOC_HIGH, ALLOC_LOW, NONE, PolyAllocator

try:
    from typing import Any, Callable  # for type checkers only: CircuitPython has no typing
except ImportError:
    pass

VOICES = const(4)
DRUMS = const(8)
GLIDE_STEP_MS = const(2)
_RETRIGGER_MS = const(2)
_MIN_GATE_MS = const(2)
_PITCH_TOP = const(32512)  # note 127 in 1/256 semitone
_CC_SUSTAIN = const(64)  # the sustain (hold) pedal: >= 64 down, < 64 up
_MOD_FULL = const(16384)  # a mod value's full scale (7-bit values are scaled to it)

# Part kinds.
PART_MONO = const(0)  # one voice, its own note stack and priority
PART_POLY = const(1)  # the poly group: one channel over 2-4 voices
PART_UNISON = const(2)  # the unison group: one note stack, every voice plays its note

# Mod sources (``cv.voices[N].mod``).
MOD_VELOCITY = const(0)
MOD_AFTERTOUCH = const(1)
MOD_BEND = const(2)
MOD_CC = const(3)

# Gate states.
_G_LOW = const(0)
_G_HIGH = const(1)
_G_RISE = const(2)  # CV written; rises at the next service
_G_DIP = const(3)  # low since gate_t (a retrigger, or a recent fall): rises _RETRIGGER_MS ticks after it

# What service() has to look at.
_P_INPUT = const(1)  # a message take() kept for the next pass
P_DRUM = const(2)
_P_GLIDE = const(4)
P_GATE = const(0xF0)  # one bit per voice: 16 << v

class CvSetup:
    """A preset's ``cv`` section (and the calibration) as the engine uses it: per-voice settings,
    DAC tables, which parts and voices each channel reaches and the notes each part plays, the
    drum map. Filled by ``firmware.cv_setup`` (start-up code, which then leaves the heap: this
    class stays here so its instances do not hold that module); read-only afterwards (the
    engine holds references to its arrays)."""

    # The fields (annotations only: nothing at run time).
    transpose: list  # per voice: semitones
    bend_range: bytearray
    glide_ms: list
    legato: bytearray
    priority: bytearray  # voices.PRIORITY_*
    mod_src: bytearray  # MOD_*
    mod_cc: bytearray
    pitch_tables: list  # per voice: the DAC codes of every note (cv_setup.pitch_table)
    mod_tables: list
    chan_parts: bytearray  # per channel: bitmask of the parts it reaches
    chan_voices: bytearray  # per channel: bitmask of the voices it reaches
    part_kind: bytearray  # PART_*
    part_voices: bytearray  # per part: bitmask of its voices
    part_lead: bytearray  # per part: the voice whose priority/legato it uses
    part_low: bytearray  # per part: its lowest note
    part_high: bytearray  # ... and highest
    poly_voices: int  # voices of the poly/unison group (0: none)
    poly_allocation: int  # voices.ALLOC_*
    drum_channel: int
    drum_map: bytearray  # note -> bitmask of drums
    drum_gate_mode: int  # drums that follow the note instead of a trigger
    drum_trigger_ms: int


class CvEngine:
    """Four voices (pitch CV, mod CV, gate) and eight drum gates, fed with MIDI messages."""

    # The fields firmware/cv_setup.py's setup_engine sets, which says what each holds
    # (annotations only: nothing at run time); install() sets the preset's.
    ticks_ms: "Callable[[], int]"
    dac: Dac
    gates: list
    drum_spi: "Any"
    drum_latch: "Any"
    drum_buf: bytearray
    now: int
    pending: int
    held: int
    pedal: int
    latched: int
    table_cache: dict
    setups: list
    pitch_tables: list
    stale: int
    gate_state: bytearray
    gate_t: list
    short: bytearray
    note_of: bytearray
    sounded: bytearray
    base: list
    bend: list
    g_from: list
    g_to: list
    g_t0: list
    gliding: int
    glide_last: int
    modx: list
    part_note: bytearray
    stacks: list
    alloc: PolyAllocator
    drum_bits: int
    drum_timing: int
    drum_t: list

    def __init__(self, hw, ticks_ms):
        # Set up by start-up code, which leaves the heap once the box runs (app).
        from firmware import cv_setup

        cv_setup.setup_engine(self, hw, ticks_ms)

    # -- configure time ------------------------------------------------------------------

    def prepare(self, cv_settings, calibration):
        """The preset's settings as the engine holds them (a ``cv_setup.CvSetup``), built once
        at start-up with its DAC tables, so a switch installs them by reference (``install``)
        and allocates nothing. Equal sections give the same setup (and equal arrays are
        shared). The builder (``firmware.cv_setup``) leaves the heap after start-up."""
        from firmware import cv_setup

        return cv_setup.prepare(self, cv_settings, calibration)

    def configure(self, cv_settings, calibration):
        """Install a preset's ``cv`` section and the ``calibration`` section. Every gate and
        drum falls and every voice is released first. May allocate (a section not prepared is
        built now, and not kept)."""
        from firmware import cv_setup

        self.install(cv_setup.build(self, cv_settings, calibration))
        self.refresh()

    def install(self, setup):
        """Install a ``CvSetup`` from ``prepare``: every gate and drum falls and every voice is
        released first; its tables and maps are taken by reference. Allocates nothing."""
        self.now = self.ticks_ms()
        self.all_off()
        self.gliding = 0
        self.pending = 0  # a message take() kept under the old setup ends with it
        old_pitch = self.pitch_tables
        self.transpose = setup.transpose
        self.bend_range = setup.bend_range
        self.glide_ms = setup.glide_ms
        self.legato = setup.legato
        self.priority = setup.priority
        self.mod_src = setup.mod_src
        self.mod_cc = setup.mod_cc
        self.pitch_tables = setup.pitch_tables
        self.mod_tables = setup.mod_tables
        self.chan_parts = setup.chan_parts
        self.chan_voices = setup.chan_voices
        self.part_kind = setup.part_kind
        self.part_voices = setup.part_voices
        self.part_lead = setup.part_lead
        self.part_low = setup.part_low
        self.part_high = setup.part_high
        self.drum_channel = setup.drum_channel
        self.drum_map = setup.drum_map
        self.drum_gate_mode = setup.drum_gate_mode
        self.drum_trigger_ms = setup.drum_trigger_ms
        if setup.poly_voices:
            self.alloc.reset(setup.poly_voices, setup.poly_allocation)
        # Bend and mod at rest; the codes follow in refresh(). A pitch code changes only with
        # another table or a bend undone (the same pitch and table give the same code).
        sounded = self.sounded
        bend = self.bend
        modx = self.modx
        pitch_tables = setup.pitch_tables
        stale = 0
        for v in range(VOICES):
            sounded[v] = 0
            modx[v] = 0
            if bend[v] or not old_pitch or pitch_tables[v] is not old_pitch[v]:
                bend[v] = 0
                stale |= 1 << v
        self.stale |= stale  # with a switch before whose refresh() has not run yet

    def refresh(self):
        """The DAC codes after ``install``, written where they changed (one transaction per chip
        at most). A preset switch runs it a ms tick after ``install`` (app.Box), so neither
        holds the loop for the whole of it; a note between the two is played as it comes."""
        stale = self.stale
        self.stale = 0
        for v in range(VOICES):
            if stale >> v & 1:
                self._pitch_out(v)
            self._mod_out(v)
        self.dac.flush()

    # -- the merger's hand-off ------------------------------------------------------------

    def take(self, status, data1, data2):
        """One whole message from the merger (``Wires.send_message`` when nothing is queued
        for the engine, else ``Merger.write_outputs`` from its queue, one message at a time: a
        timing byte, or a channel message or System Reset with its status, 0 for the data
        bytes it lacks). Forward first: the message is only
        kept here, and the next pass's ``service`` plays it, in a pass of its own rather than
        the one that forwarded it to the DIN and USB outputs. One message a pass: a note-on
        costs the engine about 0.6 ms of Python and DAC writes on the Pico (``make bench``), so
        a burst (a chord from USB, a queue refilled after a preset switch) is spread over passes
        and no pass holds every other message back for a whole chord (issue 14: no pass over
        1 ms). Returns 0 while the engine still
        holds a message (the merger keeps this one queued), else 1."""
        pending = self.pending
        if pending & _P_INPUT:
            return 0
        if status >= 0xF8 and status != 0xFC and status != 0xFF:
            return 1  # clock, start, continue: nothing for the engine (the clock owns the jacks)
        self.held = status | data1 << 8 | data2 << 16  # one store: this is the forwarding pass
        self.pending = pending | _P_INPUT
        return 1

    def play(self, status, data1, data2):
        """Play one whole message now (``service`` plays the one ``take`` kept); the CVs it
        changed go to the DACs before it returns, its gates rise at the next ``service``."""
        hi = status & 0xF0
        if hi == 0x90 and data2:
            # Note-on (its dispatch inlined: a call costs about 1,600 cycles on the Pico): the
            # drum, then each part the channel reaches whose note range holds the note.
            ch = status & 0x0F
            if ch == self.drum_channel:
                self._drum_on(data1)
            parts = self.chan_parts[ch]
            low = self.part_low
            high = self.part_high
            p = 0
            while parts:
                if parts & 1 and low[p] <= data1 <= high[p]:
                    self._part_on(p, data1, data2)
                parts >>= 1
                p += 1
        elif hi == 0x80 or hi == 0x90:
            # Note-off (or note-on with velocity 0). With the channel's pedal down the key is
            # released but its note holds (``_part_hold``) until the pedal is lifted.
            ch = status & 0x0F
            if ch == self.drum_channel:
                self._drum_off(self.drum_map[data1] & self.drum_gate_mode)
            parts = self.chan_parts[ch]
            low = self.part_low
            high = self.part_high
            held = self.pedal >> ch & 1
            p = 0
            while parts:
                if parts & 1 and low[p] <= data1 <= high[p]:
                    if held:
                        self._part_hold(p, data1)
                    else:
                        self._part_off(p, data1)
                parts >>= 1
                p += 1
        elif hi == 0xB0:
            self._control(status & 0x0F, data1, data2)
        elif hi == 0xE0:
            self._bend(status & 0x0F, data1 | (data2 << 7))
        elif hi == 0xD0:
            self._pressure(status & 0x0F, data1, NONE)
        elif hi == 0xA0:
            self._pressure(status & 0x0F, data2, data1)
        elif status == 0xFC or status == 0xFF:
            self.all_off()  # Stop and Reset: every gate falls, every voice released
        if self.dac.dirty:
            self.dac.flush()

    def service(self, now, pending):
        """Timed work: the message ``take`` kept, gates to raise after their CV, retrigger dips,
        short gates, drum triggers, glide steps, as ``pending`` (the engine's ``pending`` as the
        pass began: a message taken during the pass waits for the next) has them."""
        self.now = now
        if pending & P_GATE:
            # The gates due first: their CV went out in an earlier pass, and the message below
            # may take 0.5 ms of Python and DAC writes.
            self._service_gates(now, pending)
        if pending & _P_INPUT:
            # The message take() kept. A gate it raises rises at the next service (``pending``
            # was read before), after its CV: CV before gate.
            self.pending &= ~_P_INPUT
            held = self.held
            self.play(held & 0xFF, held >> 8 & 0x7F, held >> 16)
        if pending & P_DRUM:
            self._service_drums(now)
        if pending & _P_GLIDE:
            self._service_glide(now)

    # -- messages --------------------------------------------------------------------------

    def _part_on(self, p, note, vel):
        stack = self.stacks[p]
        if self.part_kind[p] == PART_POLY:
            alloc = self.alloc
            if alloc.mode >= ALLOC_LOW:
                stack.push(note, vel)
                self._dispatch_sorted(p)
            else:
                # A voice taken from another note (stolen) retriggers; glide if set. Its key,
                # pressed again or taken over, is no longer held by the pedal.
                v = alloc.note_on(note)
                if self.latched:
                    self.latched &= ~(1 << v)
                self._play(v, note, vel, 1, 1)
            return
        before = self.part_note[p]
        stack.push(note, vel)
        after = stack.pick(self.priority[self.part_lead[p]])
        if after == before:
            return
        self.part_note[p] = after
        overlapped = before != NONE
        if after != note:
            vel = stack.velocity(after)
        voices = self.part_voices[p]
        v = 0
        while voices:
            if voices & 1:
                legato = self.legato[v]
                self._play(v, after, vel, not (legato and overlapped), overlapped or not legato)
            voices >>= 1
            v += 1

    def _part_off(self, p, note):
        stack = self.stacks[p]
        if self.part_kind[p] == PART_POLY:
            alloc = self.alloc
            if alloc.mode >= ALLOC_LOW:
                if stack.remove(note):
                    self._dispatch_sorted(p)
            else:
                v = alloc.note_off(note)
                if v != NONE:
                    self._release(v)
            return
        if stack.remove(note):
            self._part_settle(p)

    def _part_settle(self, p):
        # A mono or unison part after keys left its stack: back to a key still held, or release.
        stack = self.stacks[p]
        after = stack.pick(self.priority[self.part_lead[p]])
        if after == self.part_note[p]:
            return
        self.part_note[p] = after
        voices = self.part_voices[p]
        v = 0
        while voices:
            if voices & 1:
                if after == NONE:
                    self._release(v)
                else:
                    # Back to a key still held: glide to it, retrigger unless legato.
                    self._play(v, after, stack.velocity(after), not self.legato[v], 1)
            voices >>= 1
            v += 1

    def _part_hold(self, p, note):
        # The key of ``note`` was released while the pedal is down: the note keeps sounding,
        # marked, until the pedal is lifted (``_pedal_up``) or the key is pressed again. As in
        # Yarns, a held note still counts as held for priority and allocation.
        if self.part_kind[p] == PART_POLY and self.alloc.mode < ALLOC_LOW:
            v = self.alloc.find(note)
            if v != NONE:
                self.latched |= 1 << v
        else:
            self.stacks[p].latch(note)

    def _pedal_up(self, ch):
        # The pedal of channel ``ch`` was lifted: every note it held ends, as its note-off
        # would have ended it.
        parts = self.chan_parts[ch]
        p = 0
        while parts:
            if parts & 1:
                if self.part_kind[p] == PART_POLY and self.alloc.mode < ALLOC_LOW:
                    alloc = self.alloc
                    voices = self.latched & self.part_voices[p]
                    self.latched &= ~voices
                    v = 0
                    while voices:
                        if voices & 1:
                            alloc.note_off(alloc.note[v])
                            self._release(v)
                        voices >>= 1
                        v += 1
                elif self.stacks[p].release_latched():
                    if self.part_kind[p] == PART_POLY:
                        self._dispatch_sorted(p)
                    else:
                        self._part_settle(p)
            parts >>= 1
            p += 1

    def _dispatch_sorted(self, p):
        # Poly "low"/"high": voice k plays the k-th lowest (highest) held note. A voice whose
        # note changes while its gate is up moves without a retrigger (as Yarns' sorted mode).
        stack = self.stacks[p]
        alloc = self.alloc
        top = alloc.mode == ALLOC_HIGH
        note_of = self.note_of
        v = 0
        while v < alloc.size:
            note = stack.nth(v, top)
            if note == NONE:
                if note_of[v] != NONE:
                    self._release(v)
            elif note != note_of[v]:
                self._play(v, note, stack.velocity(note), 0, 1)
            v += 1

    def _control(self, ch, c, value):
        if c == _CC_SUSTAIN:
            bit = 1 << ch
            if value >= 64:
                self.pedal |= bit
            elif self.pedal & bit:
                self.pedal &= ~bit
                self._pedal_up(ch)
        elif c == 123 or c == 120:  # all notes off, all sound off (the pedal too, as in Yarns)
            self._channel_off(ch)
        elif c == 121 and self.pedal >> ch & 1:  # reset all controllers: the pedal is lifted
            self.pedal &= ~(1 << ch)
            self._pedal_up(ch)
        voices = self.chan_voices[ch]
        v = 0
        while voices:
            if voices & 1:
                if c == 121:  # reset all controllers: bend to centre
                    self.bend[v] = 0
                    self._pitch_out(v)
                if self.mod_src[v] == MOD_CC and self.mod_cc[v] == c:
                    self.modx[v] = (value * _MOD_FULL + 63) // 127
                    self._mod_out(v)
            voices >>= 1
            v += 1

    def _bend(self, ch, value):
        voices = self.chan_voices[ch]
        v = 0
        while voices:
            if voices & 1:
                # Linear in the 14-bit value around 8192, in 1/256 semitone, rounded.
                self.bend[v] = ((value - 8192) * self.bend_range[v] + 16) >> 5
                self._pitch_out(v)
                if self.mod_src[v] == MOD_BEND:
                    self.modx[v] = (value * _MOD_FULL + 8191) // 16383
                    self._mod_out(v)
            voices >>= 1
            v += 1

    def _pressure(self, ch, value, note):
        # Channel pressure (note NONE) reaches every voice on the channel; poly pressure only
        # the voice sounding that note.
        voices = self.chan_voices[ch]
        v = 0
        while voices:
            if voices & 1 and self.mod_src[v] == MOD_AFTERTOUCH and (note == NONE or self.note_of[v] == note):
                self.modx[v] = (value * _MOD_FULL + 63) // 127
                self._mod_out(v)
            voices >>= 1
            v += 1

    # -- voices ------------------------------------------------------------------------------

    def _play(self, v, note, vel, retrigger, glide):
        target = note + self.transpose[v]
        if target < 0:
            target = 0
        elif target > 127:
            target = 127
        target <<= 8
        now = self.now
        if glide and self.sounded[v] and self.glide_ms[v]:
            self.g_from[v] = self.base[v]
            self.g_to[v] = target
            self.g_t0[v] = now
            if not self.pending & _P_GLIDE:
                self.glide_last = now
                self.pending |= _P_GLIDE
            self.gliding |= 1 << v
        else:
            self.base[v] = target
            if self.gliding:
                self.gliding &= ~(1 << v)
        self.sounded[v] = 1
        self.note_of[v] = note
        if self.mod_src[v] == MOD_VELOCITY:
            x = (vel * _MOD_FULL + 63) // 127
            self.modx[v] = x
            # _mod_out inlined: this is the per-note path.
            t = self.mod_tables[v]
            i = x >> 7
            c = t[i] + (((t[i + 1] - t[i]) * (x & 127) + 64) >> 7)
            c = (c + 8) >> 4
            want = self.dac.want
            if want[4 + v] != c:
                want[4 + v] = c
                self.dac.dirty |= 16 << v
        # _pitch_out inlined too: a method call on this engine costs about 2,000 cycles on the
        # board (its look-up searches the instance's ~80 attributes first; docs/design.md).
        p = self.base[v] + self.bend[v]
        if p < 0:
            p = 0
        elif p > _PITCH_TOP:
            p = _PITCH_TOP
        t = self.pitch_tables[v]
        i = p >> 8
        f = p & 255
        c = t[i]
        if f:
            c += ((t[i + 1] - c) * f + 128) >> 8
        c = (c + 8) >> 4
        dac = self.dac
        if dac.want[v] != c:
            dac.want[v] = c
            dac.dirty |= 1 << v
        self.short[v] = 0
        state = self.gate_state
        if state[v] == _G_HIGH:
            if retrigger:
                self._fall(v)
                state[v] = _G_DIP
                self.pending |= 16 << v
        elif state[v] == _G_LOW:
            # A gate that fell less than _RETRIGGER_MS ticks ago (a note-off and the next
            # note-on arriving together, as from a sequencer) stays low like a retrigger dip,
            # so every rising edge follows more than 1 ms of low. (ticks_diff inlined; the pass's
            # tick, read before a fall in this pass: such a fall counts as -1 or 0 ms ago.)
            d = ((now - self.gate_t[v] + 0x10000000) & 0x1FFFFFFF) - 0x10000000
            state[v] = _G_DIP if -_RETRIGGER_MS <= d < _RETRIGGER_MS else _G_RISE
            self.pending |= 16 << v

    def _fall(self, v):
        self.gates[v].value = False
        # A tick read after the edge: the low time is counted from no earlier than the fall,
        # so _RETRIGGER_MS ticks are always more than 1 ms.
        self.gate_t[v] = self.ticks_ms()

    def _release(self, v):
        self.note_of[v] = NONE
        state = self.gate_state[v]
        if state == _G_HIGH:
            # A gate up for less than _MIN_GATE_MS ticks (it rose a pass before this note-off
            # was played) stays up until then, as a short gate. (ticks_diff inlined.)
            if ((self.now - self.gate_t[v] + 0x10000000) & 0x1FFFFFFF) - 0x10000000 >= _MIN_GATE_MS:
                self._fall(v)
                self.gate_state[v] = _G_LOW
                self.short[v] = 0
            else:
                self.short[v] = 1
                self.pending |= 16 << v
        elif state != _G_LOW:
            self.short[v] = 1  # ended before its gate rose: still give it a short gate

    def _pitch_out(self, v):
        p = self.base[v] + self.bend[v]
        if p < 0:
            p = 0
        elif p > _PITCH_TOP:
            p = _PITCH_TOP
        t = self.pitch_tables[v]
        i = p >> 8
        f = p & 255
        c = t[i]
        if f:
            c += ((t[i + 1] - c) * f + 128) >> 8
        c = (c + 8) >> 4
        dac = self.dac
        if dac.want[v] != c:
            dac.want[v] = c
            dac.dirty |= 1 << v

    def _mod_out(self, v):
        x = self.modx[v]
        t = self.mod_tables[v]
        i = x >> 7
        f = x & 127
        c = t[i]
        if f:
            c += ((t[i + 1] - c) * f + 64) >> 7
        c = (c + 8) >> 4
        dac = self.dac
        if dac.want[4 + v] != c:
            dac.want[4 + v] = c
            dac.dirty |= 16 << v

    def _channel_off(self, ch):
        self.pedal &= ~(1 << ch)
        parts = self.chan_parts[ch]
        p = 0
        while parts:
            if parts & 1:
                self.stacks[p].clear()
                self.part_note[p] = NONE
                if self.part_kind[p] == PART_POLY:
                    self.alloc.release_all()
                voices = self.part_voices[p]
                self.latched &= ~voices
                v = 0
                while voices:
                    if voices & 1:
                        self._gate_off(v)
                    voices >>= 1
                    v += 1
            parts >>= 1
            p += 1
        if ch == self.drum_channel:
            self._drum_off(0xFF)

    def _gate_off(self, v):
        # Ends a voice now, with no short gate: Stop, all-notes-off, a preset switch.
        self.note_of[v] = NONE
        self.short[v] = 0
        state = self.gate_state[v]
        if state != _G_LOW:
            self.gate_state[v] = _G_LOW
            if state == _G_HIGH:
                self._fall(v)

    def all_off(self):
        """Every voice ends now: gates and drums fall, notes and the pedal are released (Stop,
        System Reset, and a preset switch, in a part of its own before ``install``)."""
        # (``_gate_off``, NoteStack.clear and PolyAllocator.release_all inlined: a method call
        # costs ~2,000 cycles.)
        state = self.gate_state
        note_of = self.note_of
        short = self.short
        stacks = self.stacks
        part_note = self.part_note
        held = self.alloc.held
        for v in range(VOICES):
            note_of[v] = NONE
            short[v] = 0
            if state[v] != _G_LOW:
                if state[v] == _G_HIGH:
                    self._fall(v)
                state[v] = _G_LOW
            stacks[v].n = 0  # one part per voice at most
            part_note[v] = NONE
            held[v] = 0  # MAX_VOICES == VOICES
        self.pedal = 0
        self.latched = 0
        self.drum_timing = 0
        if self.drum_bits:
            self._drum_write(0)
        self.pending &= _P_GLIDE | _P_INPUT

    # -- drums -----------------------------------------------------------------------------

    def _drum_on(self, note):
        mask = self.drum_map[note]
        if not mask:
            return
        trig = mask & ~self.drum_gate_mode
        if self.drum_bits & mask:
            # Already high: a short low first, so the new hit has its own rising edge.
            self._drum_write(self.drum_bits & ~mask)
        self._drum_write(self.drum_bits | mask)
        if trig:
            # Timed from a tick read after the latch: never shorter than trigger_ms - 1.
            now = self.ticks_ms()
            d = 0
            m = trig
            while m:
                if m & 1:
                    self.drum_t[d] = now
                m >>= 1
                d += 1
            self.drum_timing |= trig
            self.pending |= P_DRUM

    def _drum_off(self, mask):
        bits = self.drum_bits & ~mask
        self.drum_timing &= ~mask
        if bits != self.drum_bits:
            self._drum_write(bits)

    def _drum_write(self, bits):
        self.drum_bits = bits
        spi = self.drum_spi
        latch = self.drum_latch
        if spi is None or latch is None:
            return  # no shift register (a fault at power-up): the drums are silent
        self.drum_buf[0] = bits
        spi.write(self.drum_buf)
        latch.value = True  # the 595 copies its shift register to the jacks on this edge
        latch.value = False

    # -- timed work ----------------------------------------------------------------------------

    def _service_gates(self, now, pending):
        # Only the voices whose bit was set in ``pending`` (16 << v) as this service began have
        # something to do: a gate the message just played raises waits for the next pass.
        state = self.gate_state
        bits = (pending & P_GATE) >> 4
        done = 0
        v = 0
        while bits:
            if bits & 1:
                st = state[v]
                if st == _G_RISE or (st == _G_DIP and ticks_diff(now, self.gate_t[v]) >= _RETRIGGER_MS):
                    self.gates[v].value = True
                    state[v] = _G_HIGH
                    # Read after the edge, as for the dip: a gate is up at least _MIN_GATE_MS
                    # ticks, more than 1 ms, however soon its note ends (_release).
                    self.gate_t[v] = self.ticks_ms()
                    if not self.short[v]:
                        done |= 16 << v
                elif st == _G_HIGH and self.short[v]:
                    if ticks_diff(now, self.gate_t[v]) >= _MIN_GATE_MS:
                        self._fall(v)
                        state[v] = _G_LOW
                        self.short[v] = 0
                        done |= 16 << v
                elif st != _G_DIP:
                    done |= 16 << v  # ended meanwhile (all notes off, Stop)
            bits >>= 1
            v += 1
        self.pending &= ~done

    def _service_drums(self, now):
        timing = self.drum_timing
        ending = 0
        d = 0
        m = timing
        length = self.drum_trigger_ms
        while m:
            if m & 1 and ticks_diff(now, self.drum_t[d]) >= length:
                ending |= 1 << d
            m >>= 1
            d += 1
        if ending:
            self._drum_off(ending)
        if not self.drum_timing:
            self.pending &= ~P_DRUM

    def _service_glide(self, now):
        if ticks_diff(now, self.glide_last) < GLIDE_STEP_MS:
            return
        self.glide_last = now
        g = self.gliding
        v = 0
        m = g
        while m:
            if m & 1:
                ms = self.glide_ms[v]
                elapsed = ticks_diff(now, self.g_t0[v])
                if elapsed >= ms:
                    self.base[v] = self.g_to[v]
                    g &= ~(1 << v)
                else:
                    a = self.g_from[v]
                    self.base[v] = a + (self.g_to[v] - a) * elapsed // ms
                self._pitch_out(v)
            m >>= 1
            v += 1
        self.gliding = g
        if not g:
            self.pending &= ~_P_GLIDE
        self.dac.flush()
