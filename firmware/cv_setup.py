"""The CV side's start-up: the two MCP4728s put in the state the write path of
``firmware.dac`` assumes, each preset's ``cv`` section as the engine holds it (``CvSetup``:
per-voice settings, channel -> parts and voices, note ranges, the drum map), and the DAC code
tables (volts at the jack, calibrated -> DAC codes, built with floats). ``CvEngine.prepare`` runs
it for every preset at start-up, and ``CvEngine.configure`` for a section not prepared.
Start-up code only: ``app`` drops this module once the box is built, so its code leaves the
heap (docs/design.md, "Heap").
"""

import array

from firmware import dac as _dac
from firmware.cv import (
    DRUMS,
    MOD_AFTERTOUCH,
    MOD_BEND,
    MOD_CC,
    MOD_VELOCITY,
    PART_MONO,
    PART_POLY,
    PART_UNISON,
    VOICES,
    CvSetup,
)
from firmware.defaults import DEFAULT_CALIBRATION, DEFAULT_CV, JACKS, default_voice
from firmware.voices import ALLOC_NAMES, MAX_VOICES, NONE, PRIORITY_NAMES, NoteStack, PolyAllocator

NOTE_0V = 24  # 0 V at MIDI note 24 ...
NOTE_8V = 120  # ... 8 V at note 120; notes outside clamp (docs/design.md, "Defaults")

def calibration_curve(entry):
    """``(xs, ys)``: the volts to ask the DAC for (ys) at each wanted jack voltage (xs),
    piecewise linear, extended linearly past both ends.

    ``{"offset": o, "scale": s}`` asks for ``volts * s + o``. ``{"points": [[wanted, measured],
    ...]}`` lists what the jack measured when, uncalibrated, ``wanted`` volts were asked for; to
    get V the DAC is asked for the ``wanted`` whose ``measured`` is V (interpolated)."""
    if isinstance(entry, dict) and "points" in entry:
        pts = sorted((float(m), float(w)) for w, m in entry["points"])
        return [p[0] for p in pts], [p[1] for p in pts]
    offset = 0.0
    scale = 1.0
    if isinstance(entry, dict):
        offset = float(entry.get("offset", 0.0))
        scale = float(entry.get("scale", 1.0))
    return [0.0, 1.0], [offset, offset + scale]


def apply_curve(curve, volts):
    xs, ys = curve
    k = 1
    while k < len(xs) - 1 and volts > xs[k]:
        k += 1
    x0 = xs[k - 1]
    x1 = xs[k]
    if x1 == x0:
        return ys[k]
    return ys[k - 1] + (ys[k] - ys[k - 1]) * (volts - x0) / (x1 - x0)


def _code16(jack_volts, gain):
    # DAC code with 4 fractional bits, clamped to the DAC's range.
    c = int(round(volts_to_code(jack_volts / gain) * 16))
    if c < 0:
        return 0
    if c > _dac.DAC_MAX * 16:
        return _dac.DAC_MAX * 16
    return c


def note_volts(semitone):
    """Ideal pitch CV of a (fractional) MIDI note: 1 V/oct, 0 V at note 24, clamped to 0..8 V."""
    v = (semitone - NOTE_0V) / 12.0
    if v < 0.0:
        return 0.0
    if v > (NOTE_8V - NOTE_0V) / 12.0:
        return (NOTE_8V - NOTE_0V) / 12.0
    return v


def pitch_table(entry):
    """129 codes (x16) for semitones 0..127 (the last repeated) on a pitch jack."""
    curve = calibration_curve(entry)
    t = array.array("H", bytes(2 * 129))
    for s in range(128):
        t[s] = _code16(apply_curve(curve, note_volts(s)), _dac.PITCH_GAIN)
    t[128] = t[127]
    return t


def mod_table(entry, full_volts):
    """130 codes (x16) for 0/128 .. 128/128 of ``full_volts`` on a mod jack (the last repeated)."""
    curve = calibration_curve(entry)
    t = array.array("H", bytes(2 * 130))
    for k in range(129):
        t[k] = _code16(apply_curve(curve, full_volts * k / 128.0), _dac.MOD_GAIN)
    t[129] = t[128]
    return t


def volts_to_code(dac_volts):
    """DAC code (float, not clamped) for ``dac_volts`` at the DAC pin. Configure time only."""
    return dac_volts * (1 << _dac.DAC_BITS) / _dac.VREF_VOLTS


def setup_driver(chip):
    """Set an ``adafruit_mcp4728.MCP4728`` up the way the write path expects: every channel on
    the internal 2.048 V reference, gain 1, code 0. (Vref.INTERNAL is 1 in that library.)"""
    for ch in (chip.channel_a, chip.channel_b, chip.channel_c, chip.channel_d):
        ch.raw_value = 0
        ch.vref = 1
        ch.gain = 1


def setup_dac(dac, drivers=None):
    """Put both chips of ``dac`` (a ``firmware.dac.Dac``) in the state its write path assumes,
    then keep the bus locked.

    ``drivers``: optional ``adafruit_mcp4728.MCP4728`` objects (pitch, mod; None for one not
    built) made by the hardware layer; a chip without one gets a single Multi-Write that
    puts the same state in place: each channel on the internal reference, gain 1, normal
    power, code 0 (12 bytes, 315 us at 400 kHz; the driver's way is 9 transactions)."""
    if not dac.present:
        return
    done = 0
    if drivers is not None:
        for chip in range(2):
            if dac.present >> chip & 1 and drivers[chip] is not None:
                try:
                    setup_driver(drivers[chip])
                    done |= 1 << chip
                except OSError:
                    dac.present &= ~(1 << chip)
                    dac.errors += 1
    i2c = dac.i2c
    while not i2c.try_lock():
        pass
    # The DAC writer is the bus's only user from here on: keeping the lock saves a
    # try_lock/unlock pair (two calls) on every flush.
    setup = bytearray(12)
    for c in range(4):
        setup[3 * c] = _dac.MULTI_WRITE | (c << 1)
        setup[3 * c + 1] = _dac.HI_INTERNAL
    for chip in range(2):
        if dac.present >> chip & 1 and not done >> chip & 1:
            try:
                i2c.writeto(dac.addresses[chip], setup)
            except OSError:
                dac.present &= ~(1 << chip)
                dac.errors += 1
    # Both chips are at code 0 now: anything wanted already goes out at the next flush.
    dac.dirty = 0
    for ch in range(_dac.CHANNELS):
        if dac.want[ch]:
            dac.dirty |= 1 << ch


# -- a preset's cv section as the engine holds it --------------------------------------------


def setup_engine(engine, hw, ticks_ms):
    """``CvEngine.__init__``: its fields, what each holds, and the default section installed.
    ``hw`` has ``gate_pins`` and may have ``i2c``, ``faults``, ``dac_drivers``, ``drum_spi`` and
    ``drum_latch`` (firmware.board_io)."""
    engine.ticks_ms = ticks_ms
    i2c = getattr(hw, "i2c", None)
    present = 0
    if i2c is not None:
        present = 3
        for fault in getattr(hw, "faults", ()):
            if fault.startswith("dac 0x%02x" % _dac.PITCH_ADDRESS):
                present &= ~1
            elif fault.startswith("dac 0x%02x" % _dac.MOD_ADDRESS):
                present &= ~2
    engine.dac = _dac.Dac(i2c, present)
    setup_dac(engine.dac, getattr(hw, "dac_drivers", None))
    engine.gates = list(hw.gate_pins)
    engine.drum_spi = getattr(hw, "drum_spi", None)
    engine.drum_latch = getattr(hw, "drum_latch", None)
    engine.drum_buf = bytearray(1)
    engine.now = ticks_ms()
    engine.pending = 0
    # The message take() kept for the next pass's service() (_P_INPUT in ``pending``):
    # status | data1 << 8 | data2 << 16.
    engine.held = 0
    # Sustain: the channels whose pedal is down (a bit each), and the poly voices (the
    # allocator's modes) whose key was released under it. A mono, unison or sorted part
    # marks such keys in its NoteStack instead (``latch``).
    engine.pedal = 0
    engine.latched = 0
    # Settings (per voice, per channel, the drum map, the DAC tables) are a CvSetup's
    # arrays, installed by reference (install); the default section's from the start.
    engine.table_cache = {}  # DAC tables by calibration (cv_setup)
    engine.setups = []  # CvSetup per distinct preset section (prepare)
    engine.pitch_tables = []  # (install: the setup's)
    engine.stale = 0  # voices whose pitch code refresh() must work out again
    # ... and state.
    engine.gate_state = bytearray(VOICES)
    engine.gate_t = [0] * VOICES  # the tick of each gate's last edge, read after it
    engine.short = bytearray(VOICES)
    engine.note_of = bytearray(VOICES)  # the note a voice sounds (NONE: released)
    engine.sounded = bytearray(VOICES)  # has played a note since configure (glide needs a start)
    engine.base = [0] * VOICES  # pitch in 1/256 semitone, before bend (moves while gliding)
    engine.bend = [0] * VOICES  # pitch bend in 1/256 semitone
    engine.g_from = [0] * VOICES
    engine.g_to = [0] * VOICES
    engine.g_t0 = [0] * VOICES
    engine.gliding = 0
    engine.glide_last = 0
    engine.modx = [0] * VOICES  # mod value, 0.._MOD_FULL
    # Parts (their kind, voices and lead voice are the setup's).
    engine.part_note = bytearray(VOICES)  # the note a mono/unison part plays (NONE: none)
    engine.stacks = [NoteStack() for _ in range(VOICES)]
    engine.alloc = PolyAllocator()
    # Drums.
    engine.drum_bits = 0  # what the 595 outputs
    engine.drum_timing = 0  # triggers running
    engine.drum_t = [0] * DRUMS
    for v in range(VOICES):
        engine.note_of[v] = NONE
    engine.configure(DEFAULT_CV, DEFAULT_CALIBRATION)
    # This module is start-up code: out of the heap until prepare() needs it again, so the
    # config check and the merger's tables, built meanwhile, find the heap unfragmented by it.
    import sys

    import firmware

    sys.modules.pop("firmware.cv_setup", None)
    if hasattr(firmware, "cv_setup"):
        delattr(firmware, "cv_setup")


def _channel(value, default):
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 16:
        return value - 1
    return default - 1


def _note_range(value):
    # ``cv.voices[N].notes``: (low, high), inclusive; every note when unset or malformed.
    if isinstance(value, list) and len(value) == 2:
        low, high = int(value[0]), int(value[1])
        if 0 <= low <= high <= 127:
            return low, high
    return 0, 127


def _mod_source(text):
    if isinstance(text, str) and text.startswith("cc:"):
        try:
            n = int(text[3:])
        except ValueError:
            n = 1
        return MOD_CC, n & 0x7F
    if text == "aftertouch":
        return MOD_AFTERTOUCH, 0
    if text == "pitch_bend":
        return MOD_BEND, 0
    return MOD_VELOCITY, 0


def merged(cv):
    """``cv`` over DEFAULT_CV, one level deep and per voice: the checker normally does this;
    the engine repeats it so a partial dict (tests, an older checker) still works."""
    out = dict(DEFAULT_CV)
    if isinstance(cv, dict):
        out.update(cv)
    voices = []
    given = out.get("voices")
    for n in range(VOICES):
        v = default_voice(n)
        if isinstance(given, list) and n < len(given) and isinstance(given[n], dict):
            v.update(given[n])
        voices.append(v)
    out["voices"] = voices
    for key in ("poly", "drums"):
        d = dict(DEFAULT_CV[key])
        if isinstance(out.get(key), dict):
            d.update(out[key])
        out[key] = d
    return out


# CvSetup's arrays: read-only once built, so equal ones are shared between setups.
SETUP_ARRAYS = ("transpose", "bend_range", "glide_ms", "legato", "priority", "mod_src", "mod_cc", "pitch_tables",
                 "mod_tables", "chan_parts", "chan_voices", "part_kind", "part_voices", "part_lead", "part_low",
                 "part_high", "drum_map")
SETUP_VALUES = ("poly_voices", "poly_allocation", "drum_channel", "drum_gate_mode", "drum_trigger_ms")


def _fill(setup, cv_settings):
    # A cv.CvSetup's fields from a preset's ``cv`` section (see its docstring).
    cv = merged(cv_settings)
    setup.transpose = [0] * VOICES
    setup.bend_range = bytearray(VOICES)
    setup.glide_ms = [0] * VOICES
    setup.legato = bytearray(VOICES)
    setup.priority = bytearray(VOICES)
    setup.mod_src = bytearray(VOICES)
    setup.mod_cc = bytearray(VOICES)
    setup.pitch_tables = [None] * VOICES  # set by build()
    setup.mod_tables = [None] * VOICES
    for v in range(VOICES):
        s = cv["voices"][v]
        setup.transpose[v] = int(s["transpose"])
        setup.bend_range[v] = int(s["bend_range"])
        setup.glide_ms[v] = int(s["glide_ms"])
        setup.legato[v] = 1 if s["legato"] else 0
        setup.priority[v] = PRIORITY_NAMES.index(s["priority"]) if s["priority"] in PRIORITY_NAMES else 0
        setup.mod_src[v], setup.mod_cc[v] = _mod_source(s["mod"])
    setup.chan_parts = bytearray(16)
    setup.chan_voices = bytearray(16)
    setup.part_kind = bytearray(VOICES)
    setup.part_voices = bytearray(VOICES)  # voice bitmask
    setup.part_lead = bytearray(VOICES)  # the voice whose priority/legato the part uses
    # The notes each part plays (inclusive): a mono voice's own ``notes``, the poly/unison
    # group's those of its first voice (the lead). Two parts on one channel split it.
    setup.part_low = bytearray(VOICES)
    setup.part_high = bytearray(VOICES)
    setup.poly_voices = 0  # voices of the poly/unison group (0: none)
    setup.poly_allocation = 0
    mode = cv["mode"]
    first_free = 0
    n_parts = 0
    if mode in ("poly", "unison"):
        poly = cv["poly"]
        k = int(poly["voices"])
        if k < 2 or k > MAX_VOICES:
            k = MAX_VOICES
        mask = (1 << k) - 1
        setup.poly_voices = k
        setup.poly_allocation = ALLOC_NAMES.index(poly["allocation"]) if poly["allocation"] in ALLOC_NAMES else 0
        setup.part_kind[0] = PART_POLY if mode == "poly" else PART_UNISON
        setup.part_voices[0] = mask
        setup.part_lead[0] = 0
        setup.part_low[0], setup.part_high[0] = _note_range(cv["voices"][0].get("notes"))
        ch = _channel(poly["channel"], 1)
        setup.chan_parts[ch] |= 1
        setup.chan_voices[ch] |= mask
        first_free = k
        n_parts = 1
    # Mono voices: every voice in mono mode, and in poly/unison the voices the group leaves
    # free (each keeps working on its own channel, so its mod jack can follow a CC).
    for v in range(first_free, VOICES):
        p = n_parts
        setup.part_kind[p] = PART_MONO
        setup.part_voices[p] = 1 << v
        setup.part_lead[p] = v
        setup.part_low[p], setup.part_high[p] = _note_range(cv["voices"][v].get("notes"))
        ch = _channel(cv["voices"][v]["channel"], v + 1)
        setup.chan_parts[ch] |= 1 << p
        setup.chan_voices[ch] |= 1 << v
        n_parts += 1
    drums = cv["drums"]
    setup.drum_channel = _channel(drums["channel"], 10)
    setup.drum_map = bytearray(128)  # note -> bitmask of drums
    notes = drums["notes"]
    for d in range(DRUMS):
        if isinstance(notes, list) and d < len(notes):
            setup.drum_map[int(notes[d]) & 0x7F] |= 1 << d
    modes = drums["mode"]
    gate_mode = 0
    for d in range(DRUMS):
        m = modes[d] if isinstance(modes, list) and d < len(modes) else modes
        if m == "gate":
            gate_mode |= 1 << d
    setup.drum_gate_mode = gate_mode  # drums that follow the note instead of a trigger
    setup.drum_trigger_ms = int(drums["trigger_ms"])


def _tables(engine, v, cal, mod_range):
    # Building a 128-entry table costs milliseconds on the RP2040 (floats): each is built once
    # (prepare() at start-up) and a preset switch only picks it up. Jacks with the same
    # calibration share one table (the engine's cache keeps them for a later configure()).
    cache = engine.table_cache
    pitch_key = ("pitch", str(cal.get(JACKS[v])))
    mod_key = ("mod", str(cal.get(JACKS[4 + v])), float(mod_range))
    pitch = cache.get(pitch_key)
    if pitch is None:
        cache[pitch_key] = pitch = pitch_table(cal.get(JACKS[v]))
    mod = cache.get(mod_key)
    if mod is None:
        cache[mod_key] = mod = mod_table(cal.get(JACKS[4 + v]), float(mod_range))
    return pitch, mod


def build(engine, cv_settings, calibration):
    """A ``CvSetup`` for ``engine`` (a ``firmware.cv.CvEngine``) with its DAC tables."""
    setup = CvSetup()
    _fill(setup, cv_settings)
    cal = calibration if isinstance(calibration, dict) else {}
    voices = merged(cv_settings)["voices"]
    for v in range(VOICES):
        setup.pitch_tables[v], setup.mod_tables[v] = _tables(engine, v, cal, voices[v]["mod_range"])
    return setup


def prepare(engine, cv_settings, calibration):
    """``build``, deduplicated against the setups ``engine`` prepared before: arrays equal to
    another setup's are that one, and a setup equal to another is that one (16 presets of a
    live set fit; equal sections, the same dicts from firmware.start, give the same setup)."""
    setup = build(engine, cv_settings, calibration)
    known_setups = engine.setups
    for name in SETUP_ARRAYS:
        mine = getattr(setup, name)
        for known in known_setups:
            theirs = getattr(known, name)
            if theirs == mine:
                setattr(setup, name, theirs)
                break
    for known in known_setups:
        same = True
        for name in SETUP_ARRAYS:
            if getattr(known, name) is not getattr(setup, name):
                same = False
        for name in SETUP_VALUES:
            if getattr(known, name) != getattr(setup, name):
                same = False
        if same:
            return known
    known_setups.append(setup)
    return setup
