"""The CV side's start-up: the two MCP4728s put in the state the write path of
``firmware.dac`` assumes, and the DAC code tables (volts at the jack, calibrated -> DAC codes,
built with floats: ``CvEngine.prepare`` for every preset, and a configure that meets a
calibration not prepared). Start-up code only: ``app`` drops this module once the box is built,
so its code leaves the heap (docs/design.md, "Heap").
"""

import array

from firmware import dac as _dac

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
