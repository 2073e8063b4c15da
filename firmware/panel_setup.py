"""The front panel's state, set up once at start-up. A start-up module (``app.START_UP_MODULES``):
dropped once the box runs, its code leaves the heap (docs/design.md, "Heap")."""

from firmware.panel import ACTION_NONE, N_BUTTONS, N_LEDS, NVM_LENGTH, nvm_preset

# (R, G, B) of each colour, three bytes a colour: one bytes object (a tuple of tuples took
# about 350 bytes of heap).
_RGB = bytes((
    0, 0, 0,
    0, 255, 0,
    255, 120, 0,
    0, 60, 255,
    180, 0, 255,
    0, 200, 255,
    0, 80, 0,
    255, 0, 0,
    255, 120, 0,
    255, 255, 255,
))


def palette(brightness):
    """GRB bytes of every colour at ``brightness`` (0-1): colour c at [3c, 3c + 3)."""
    out = bytearray(len(_RGB))
    for k in range(0, len(_RGB), 3):
        out[k] = int(_RGB[k + 1] * brightness + 0.5)  # G
        out[k + 1] = int(_RGB[k] * brightness + 0.5)  # R
        out[k + 2] = int(_RGB[k + 2] * brightness + 0.5)  # B
    return out


def setup_panel(panel, buttons, write_leds, nvm, watchdog, n_presets, settings, last_rx, now, error, fault):
    # ``firmware.panel.Panel``'s fields (its constructor's arguments, as it names them).
    panel.buttons = buttons  # objects with .value; False = pressed
    panel.write_leds = write_leds  # callable(buf) writing the 27 GRB bytes, or None
    panel.nvm = nvm
    panel.watchdog = watchdog  # an armed watchdog (has feed()), or None
    panel.n_presets = n_presets
    panel.long_ms = settings["long_press_ms"]
    panel.last_rx = last_rx  # ticks of the last byte per input (the merger's list)
    panel.error = error
    panel.fault = fault
    panel.colours = palette(settings["brightness"])
    panel.buf = bytearray(3 * N_LEDS)
    panel.have = bytearray(N_LEDS)
    for k in range(N_LEDS):
        panel.have[k] = 0xFF  # nothing shown yet: the first refresh writes
    # An input's last_rx means something only once it changed from its initial 0.
    panel.rx_seen = bytearray(len(last_rx))
    panel.rx_mark = [0] * len(last_rx)
    panel.record = bytearray(NVM_LENGTH)
    # Buttons: debounced state as a bitmask, per-button counters and press times.
    panel.down = 0
    panel.counts = bytearray(N_BUTTONS)
    panel.counting = 0  # buttons whose counter is running
    panel.down_at = [0] * N_BUTTONS
    panel.used = 0  # took part in a combination: no action at release
    panel.stepped = 0  # a long press stepped presets: no action at release
    panel.step_at = [0] * N_BUTTONS
    panel.pending = ACTION_NONE
    # A button already held at start-up (button 1 picks the drive mode in boot.py) does
    # nothing until it has been released.
    for k in range(N_BUTTONS):
        if not buttons[k].value:
            panel.down |= 1 << k
    panel.used = panel.down
    panel.preset = 0
    # What NVM holds now. Nothing valid means preset 1 at power-up, as preset 0 here: a
    # new box starts in preset 1 without writing its flash.
    saved = nvm_preset(nvm, 256)
    panel.saved = 0 if saved is None else saved
    panel.changed_at = now
    panel.flash_until = now
    panel.last = now
    panel.next_scan = now
    panel.next_led = now
    panel.next_feed = now
    # The clock (an object whose ``running`` says the transport runs; start.build attaches
    # app's Clock): no NVM write while it runs, the flash write would stop the loop ~51 ms.
    panel.transport = None
    # The tick buf's changed frame may be written from (the one after its composition, so
    # the two never share a pass); -1: none.
    panel.frame_due = -1
    panel.nvm_writes = 0
    # The first frame, every LED changed (the dearest compose, about 100,000 cycles on the
    # board), is composed here at start-up, not in a main-loop pass; the first ms tick
    # writes it.
    panel._leds(now)
