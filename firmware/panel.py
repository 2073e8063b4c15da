"""The front panel: four buttons, nine LEDs, the preset kept in NVM, and the watchdog's food.

``app`` builds one ``Panel`` from ``board_io``'s handles (button pins, an LED writer, NVM, the
watchdog) and calls ``service(now)`` once a main-loop pass. It returns an action code that
``app`` carries out between messages:

- ``ACTION_PRESET + n``: select preset n (0-based);
- ``ACTION_TAP``: a tap-tempo tap at ``now`` (``clock.tap``);
- ``ACTION_START_STOP``: start or stop the internal clock (``clock.start_stop``).

``app`` reports the preset it switched to with ``set_preset(n)``; the panel shows it and, once
it has stayed put for ``NVM_SAVE_MS``, stores it in NVM so the box powers up in it.

Buttons (pressed = pin low, pull-ups), the README's "Front panel" section for users:

- a short press of button N (released before ``long_press_ms``) selects preset N;
- holding button 1 / 2 for ``long_press_ms`` steps to the previous / next preset (wrapping),
  and again every ``REPEAT_MS`` while held: the way to presets 5-16;
- hold 4, then press 3: a tap-tempo tap at each press of 3;
- press 3 and 4 together (within ``_CHORD_MS``): start / stop;
- a button that took part in a combination selects nothing when released.

LEDs (a chain of 9 WS2812, GRB): 0-3 the preset (presets 1-4 green on LED N; presets 5-8,
9-12, 13-16 on LED ((N - 1) % 4) + 1 in amber, blue, violet), 4-7 activity of DIN in1-in4
(lit ``ACTIVITY_MS`` after a byte), 8 status: green when all is well, steady amber when a part
failed at power-up, blinking red (``BLINK_MS`` on, off) when config.json was refused and the
safe default runs; a short white flash on each tap and start/stop.

Cost: ``service`` returns after one comparison unless the millisecond tick moved; it samples
the buttons every ``_SCAN_MS``, recomposes the LEDs every ``LED_MS`` and writes them only when
a colour changed (a neopixel_write of 9 pixels blocks for about 270 us of wire time; both wait
up to ``LED_WAIT_MS`` for a pass that carries no message), feeds
the watchdog every ``FEED_MS``. Nothing on these paths allocates (tests/mp_paths/panel_path.py
runs it under heap_lock on the MicroPython VM).

Why not adafruit_debouncer: it allocates nothing per update on MicroPython (measured), but each
``update()`` reads the clock itself and makes several bound-method calls, one object per button.
Measured on the MicroPython VM (node) in one run, per scan of all four buttons with nothing
pressed: ``_scan`` here 4-8 us, four ``Debouncer.update()`` 15-24 us, four ``Button.update()``
(the class with long presses) 42-48 us. Its ``Button`` also reports a long press once (no
repeat) and delays short presses to count multi-clicks. On the Pico a scan here is about four
pin reads (506 cycles each, docs/design.md, "CircuitPython costs") and a few tests: roughly 30 us every 5 ms.
"""

from micropython import const

from firmware.ticks import ticks_diff

try:
    from typing import Any, Callable  # for type checkers only: CircuitPython has no typing
except ImportError:
    pass

_MASK = const(0x1FFFFFFF)  # ticks_ms wraps at 2**29 (firmware/ticks.py)
_HALF = const(0x10000000)

N_BUTTONS = const(4)
N_LEDS = const(9)
_N_ACTIVITY = const(4)  # LEDs 4-7: DIN inputs in1-in4
_LED_STATUS = const(8)

_SCAN_MS = const(5)  # button sampling period
_DEBOUNCE_SCANS = const(3)  # a level must hold for 3 samples (10-15 ms) to count
_CHORD_MS = const(100)  # 3 and 4 pressed within this of each other: start/stop
REPEAT_MS = const(300)  # a held button 1/2 steps again this often after the long press
LED_MS = const(20)  # LED recomposition period (a write only when something changed)
# How late the LED work may be when the pass carries a message: a frame's composition or write
# (0.25 ms each on the board) after a note's forwarding made a pass of over 1 ms, and a frame a
# few ms late is not seen.
LED_WAIT_MS = const(6)
ACTIVITY_MS = const(50)  # an activity LED stays lit this long after a byte
BLINK_MS = const(250)  # the error pattern: 250 ms on, 250 ms off
_FLASH_MS = const(60)  # the status flash acknowledging a tap or start/stop
FEED_MS = const(100)  # watchdog feeding period (the timeout is 2 s: board_io)
NVM_SAVE_MS = const(2000)  # a preset is stored once it has been active this long
_NVM_QUIET_MS = const(10)  # ... and no input byte came for this long (between messages)

ACTION_NONE = const(0)
ACTION_TAP = const(1)
ACTION_START_STOP = const(2)
ACTION_PRESET = const(0x40)  # + preset index (0-15)

# NVM layout (bytes 0-2 of microcontroller.nvm belong to the panel; docs/config.md):
# [MAGIC, preset index, index ^ 0xFF]. Anything else reads as "no preset stored".
NVM_OFFSET = const(0)
NVM_LENGTH = const(3)
NVM_MAGIC = const(0x54)  # "T"

# Colours: an index into the palette (firmware/panel_setup.py builds it at the config's brightness).
C_OFF = const(0)
C_PRESET = const(1)  # presets 1-4
C_PAGE2 = const(2)  # presets 5-8
C_PAGE3 = const(3)  # presets 9-12
C_PAGE4 = const(4)  # presets 13-16
C_ACTIVITY = const(5)
C_OK = const(6)
C_ERROR = const(7)
C_FAULT = const(8)
C_FLASH = const(9)
PAGE_COLOURS = (C_PRESET, C_PAGE2, C_PAGE3, C_PAGE4)


def nvm_record(index):
    """The NVM bytes that store preset ``index``."""
    return bytes((NVM_MAGIC, index, index ^ 0xFF))


def nvm_preset(nvm, n_presets):
    """The preset stored in ``nvm`` if valid and below ``n_presets``, else None."""
    if nvm is None or len(nvm) < NVM_OFFSET + NVM_LENGTH:
        return None
    magic = nvm[NVM_OFFSET]
    index = nvm[NVM_OFFSET + 1]
    check = nvm[NVM_OFFSET + 2]
    if magic != NVM_MAGIC or check != index ^ 0xFF or index >= n_presets:
        return None
    return index


class Panel:
    """Buttons, LEDs, NVM and watchdog feeding; see the module docstring."""

    # The fields setup_panel sets (annotations only: nothing at run time).
    buttons: list
    write_leds: "Callable"  # or None: no LEDs (no frame is then ever due)
    nvm: "bytearray | None"
    watchdog: "Any"
    n_presets: int
    long_ms: int
    last_rx: list
    error: bool
    fault: bool
    colours: bytearray
    buf: bytearray
    have: bytearray
    rx_seen: bytearray
    rx_mark: list
    record: bytearray
    down: int
    counts: bytearray
    counting: int
    down_at: list
    used: int
    stepped: int
    step_at: list
    pending: int
    preset: int
    saved: int
    changed_at: int
    flash_until: int
    last: int
    next_scan: int
    next_led: int
    next_feed: int
    transport: "Any"
    frame_due: int
    nvm_writes: int

    def __init__(self, buttons, write_leds, nvm, watchdog, n_presets, settings, last_rx, now,
                 error=False, fault=False):
        # Set up by start-up code, which leaves the heap once the box runs (app):
        # firmware/panel_setup.py, ``setup_panel``, names and explains each field.
        from firmware import panel_setup

        panel_setup.setup_panel(self, buttons, write_leds, nvm, watchdog, n_presets, settings, last_rx, now,
                                error, fault)

    # -- called by app ------------------------------------------------------------------

    def set_preset(self, index, now):
        """``app`` switched to preset ``index``: show it; it is saved once it has stayed."""
        if index != self.preset:
            self.preset = index
            self.changed_at = now

    def stored_preset(self):
        """The preset NVM says the box was in (None: none stored, or not in this config)."""
        return nvm_preset(self.nvm, self.n_presets)

    def service(self, now, busy):
        """One main-loop pass: returns an ACTION_* code (ACTION_NONE almost always). ``busy``:
        the pass carries a message, so the LED work may wait up to LED_WAIT_MS for one that
        does not."""
        if now == self.last:
            return ACTION_NONE
        self.last = now
        # "now is at or past t", wrap-safe, inlined (a function call costs more than the test).
        # One of the button scan, the LED frame's composition and its write a tick: every 20 ms
        # the scan and the frame fell due in the same tick, a pass of 0.9 ms on the board.
        due = (now - LED_WAIT_MS) & _MASK if busy else now
        if ((now - self.next_scan) & _MASK) < _HALF:
            self.next_scan = (now + _SCAN_MS) & _MASK
            self._scan(now)
        elif ((due - self.next_led) & _MASK) < _HALF:
            self.next_led = (now + LED_MS) & _MASK
            self._leds(now)
        elif self.frame_due >= 0 and ((due - self.frame_due) & _MASK) < _HALF:
            # A changed frame goes out a tick after it was composed: the chain's write blocks
            # for its wire time (27 bytes, about 0.27 ms), so the two never share a pass.
            self.frame_due = -1
            self.write_leds(self.buf)
        if ((now - self.next_feed) & _MASK) < _HALF:
            self.next_feed = (now + FEED_MS) & _MASK
            wd = self.watchdog
            if wd is not None:
                wd.feed()
            if self.saved != self.preset and ticks_diff(now, self.changed_at) >= NVM_SAVE_MS:
                self._save(now)
        action = self.pending
        if action:
            self.pending = ACTION_NONE
            if action < ACTION_PRESET:
                self.flash_until = now + _FLASH_MS
        return action

    # -- buttons ------------------------------------------------------------------------

    def _scan(self, now):
        # The common case, nothing pressed and nothing changing: four pin reads and two tests.
        b = self.buttons
        raw = 0
        if not b[0].value:
            raw = 1
        if not b[1].value:
            raw |= 2
        if not b[2].value:
            raw |= 4
        if not b[3].value:
            raw |= 8
        diff = raw ^ self.down
        if diff or self.counting:
            self._debounce(raw, diff, now)
        down = self.down
        if down == 1 or down == 2:
            self._long(down - 1, now)

    def _debounce(self, raw, diff, now):
        counts = self.counts
        counting = 0
        for k in range(N_BUTTONS):
            bit = 1 << k
            if diff & bit:
                c = counts[k] + 1
                if c < _DEBOUNCE_SCANS:
                    counts[k] = c
                    counting |= bit
                    continue
                counts[k] = 0
                self.down ^= bit
                if raw & bit:
                    self._press(k, now)
                else:
                    self._release(k, now)
            else:
                counts[k] = 0
        self.counting = counting

    def _long(self, k, now):
        # Button 1 / 2 held alone: previous / next preset at the long press, then repeating.
        bit = 1 << k
        if not self.used & bit and ticks_diff(now, self.step_at[k]) >= 0:
            self.step_at[k] = now + REPEAT_MS
            self.stepped |= bit
            n = self.n_presets
            if n > 1:
                self._act(ACTION_PRESET + (self.preset + (1 if k else n - 1)) % n)

    def _press(self, k, now):
        self.down_at[k] = now
        self.step_at[k] = now + self.long_ms
        down = self.down
        others = down & ~(1 << k)
        if not others:
            return
        if k >= 2 and others == (1 << (5 - k)):  # 3 with 4 held, or 4 with 3 held
            other = 5 - k
            if ticks_diff(now, self.down_at[other]) < _CHORD_MS and not self.used & (1 << other):
                self._act(ACTION_START_STOP)
            elif k == 2:
                self._act(ACTION_TAP)  # 4 held first, 3 pressed: a tap
        self.used |= down  # every button down now took part in a combination

    def _release(self, k, now):
        bit = 1 << k
        if self.used & bit or self.stepped & bit:
            self.used &= ~bit
            self.stepped &= ~bit
            return
        if ticks_diff(now, self.down_at[k]) < self.long_ms and k < self.n_presets:
            self._act(ACTION_PRESET + k)

    def _act(self, action):
        self.pending = action

    # -- LEDs and NVM -------------------------------------------------------------------

    def _leds(self, now):
        # Each LED's colour is compared with what the chain shows; only a change touches the
        # buffer, and only a changed buffer is written.
        have = self.have
        dirty = False
        p = self.preset
        lit = p & 3
        colour = PAGE_COLOURS[(p >> 2) & 3]
        for k in range(4):
            c = colour if k == lit else C_OFF
            if c != have[k]:
                self._set(k, c)
                dirty = True
        last_rx = self.last_rx
        seen = self.rx_seen
        mark = self.rx_mark
        for i in range(len(last_rx)):
            t = last_rx[i]
            if t != mark[i]:
                mark[i] = t
                seen[i] = 1
            if i < _N_ACTIVITY:
                c = C_ACTIVITY if seen[i] and ((now - t) & _MASK) < ACTIVITY_MS else C_OFF
                if c != have[4 + i]:
                    self._set(4 + i, c)
                    dirty = True
        left = (self.flash_until - now) & _MASK  # ms of the flash still to come
        if 0 < left <= _FLASH_MS:
            c = C_FLASH
        elif self.error:
            c = C_ERROR if (now // BLINK_MS) & 1 else C_OFF
        elif self.fault:
            c = C_FAULT
        else:
            c = C_OK
        if c != have[_LED_STATUS]:
            self._set(_LED_STATUS, c)
            dirty = True
        if dirty and self.write_leds is not None:
            self.frame_due = (now + 1) & _MASK

    def _set(self, k, c):
        self.have[k] = c
        buf = self.buf
        colours = self.colours
        buf[3 * k] = colours[3 * c]
        buf[3 * k + 1] = colours[3 * c + 1]
        buf[3 * k + 2] = colours[3 * c + 2]

    def _save(self, now):
        # An NVM write erases and rewrites a 4 KB flash sector (tens of ms with the CPU
        # stalled) and wears the flash: only a preset that stayed NVM_SAVE_MS, only between
        # messages (no input byte for _NVM_QUIET_MS), never while the clock runs, one write for
        # all three bytes.
        transport = self.transport
        if transport is not None and transport.running:
            return
        last_rx = self.last_rx
        seen = self.rx_seen
        for i in range(len(last_rx)):
            if seen[i] and ticks_diff(now, last_rx[i]) < _NVM_QUIET_MS:
                return
        nvm = self.nvm
        if nvm is None:
            self.saved = self.preset
            return
        record = self.record
        p = self.preset
        record[0] = NVM_MAGIC
        record[1] = p
        record[2] = p ^ 0xFF
        nvm[NVM_OFFSET:NVM_OFFSET + NVM_LENGTH] = record
        self.saved = self.preset
        self.nvm_writes += 1
