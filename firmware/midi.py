"""MIDI 1.0 wire facts as tables the byte path can index without branching.

Used by the merger (parsing), the router (message kinds) and the config checker (kind names).
Only at start-up: the module then leaves the heap (``app.START_UP_MODULES``); the merger and
the CV engine keep ``DATA_LENGTH``, which they imported.
"""

from micropython import const

NOTE_OFF = const(0x80)
NOTE_ON = const(0x90)
POLY_PRESSURE = const(0xA0)
CONTROL_CHANGE = const(0xB0)
PROGRAM_CHANGE = const(0xC0)
CHANNEL_PRESSURE = const(0xD0)
PITCH_BEND = const(0xE0)
SYSEX = const(0xF0)
MTC_QUARTER_FRAME = const(0xF1)
SONG_POSITION = const(0xF2)
SONG_SELECT = const(0xF3)
TUNE_REQUEST = const(0xF6)
SYSEX_END = const(0xF7)
CLOCK = const(0xF8)
START = const(0xFA)
CONTINUE = const(0xFB)
STOP = const(0xFC)
ACTIVE_SENSING = const(0xFE)
RESET = const(0xFF)


def _data_lengths():
    # Data bytes that follow each status byte; 0xFF marks a status that carries no message of
    # its own (undefined F4 F5 F9 FD, and F0/F7 which the parser handles as SysEx).
    t = bytearray(256)
    for s in range(0x80, 0x100):
        hi = s & 0xF0
        if hi in (0xC0, 0xD0):
            t[s] = 1
        elif hi < 0xF0:
            t[s] = 2
    t[0xF1] = 1
    t[0xF2] = 2
    t[0xF3] = 1
    t[0xF6] = 0
    for s in (0xF0, 0xF4, 0xF5, 0xF7, 0xF9, 0xFD):
        t[s] = 0xFF
    return t


DATA_LENGTH = _data_lengths()

# Message kinds, as named in config.json filters. A kind is a bit so a route can hold a set.
KIND_NOTES = const(0x0001)
KIND_POLY_PRESSURE = const(0x0002)
KIND_CONTROL_CHANGE = const(0x0004)
KIND_PROGRAM_CHANGE = const(0x0008)
KIND_CHANNEL_PRESSURE = const(0x0010)
KIND_PITCH_BEND = const(0x0020)
KIND_SYSEX = const(0x0040)
KIND_CLOCK = const(0x0080)
KIND_TRANSPORT = const(0x0100)
KIND_SONG_POSITION = const(0x0200)
KIND_MTC = const(0x0400)
KIND_TUNE_REQUEST = const(0x0800)
KIND_ACTIVE_SENSING = const(0x1000)
KIND_RESET = const(0x2000)
KIND_ALL = const(0x3FFF)

KIND_NAMES = (
    ("notes", KIND_NOTES),
    ("poly_pressure", KIND_POLY_PRESSURE),
    ("control_change", KIND_CONTROL_CHANGE),
    ("program_change", KIND_PROGRAM_CHANGE),
    ("channel_pressure", KIND_CHANNEL_PRESSURE),
    ("pitch_bend", KIND_PITCH_BEND),
    ("sysex", KIND_SYSEX),
    ("clock", KIND_CLOCK),
    ("transport", KIND_TRANSPORT),
    ("song_position", KIND_SONG_POSITION),
    ("mtc", KIND_MTC),
    ("tune_request", KIND_TUNE_REQUEST),
    ("active_sensing", KIND_ACTIVE_SENSING),
    ("reset", KIND_RESET),
)


def kind_of(status):
    """The kind bit of a status byte (0 for undefined status bytes)."""
    hi = status & 0xF0
    if hi < 0xF0:
        return (
            KIND_NOTES,
            KIND_NOTES,
            KIND_POLY_PRESSURE,
            KIND_CONTROL_CHANGE,
            KIND_PROGRAM_CHANGE,
            KIND_CHANNEL_PRESSURE,
            KIND_PITCH_BEND,
        )[(hi - 0x80) >> 4]
    if status in (0xF0, 0xF7):
        return KIND_SYSEX
    if status == 0xF8:
        return KIND_CLOCK
    if status in (0xFA, 0xFB, 0xFC):
        return KIND_TRANSPORT
    if status in (0xF2, 0xF3):
        return KIND_SONG_POSITION
    if status == 0xF1:
        return KIND_MTC
    if status == 0xF6:
        return KIND_TUNE_REQUEST
    if status == 0xFE:
        return KIND_ACTIVE_SENSING
    if status == 0xFF:
        return KIND_RESET
    return 0
