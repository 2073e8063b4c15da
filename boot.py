"""Runs once at power-up (and after a reset), before USB starts: the USB MIDI device's name, and
who may write the CIRCUITPY drive.

- Normal (nothing held): the computer may write the drive (edit config.json); the firmware
  only reads it. This is CircuitPython's default.
- Button 1 held at power-up: the drive is read-only to the computer (config.json is locked:
  nothing the computer does can change or corrupt it) and writable by code on the box (the
  REPL, tools run there). The Thruway firmware itself never writes the drive in either mode.

What it prints goes to boot_out.txt on the drive.
"""

import board
import digitalio
import storage
import usb_midi

from firmware import pinmap

if board.board_id == pinmap.USB_HOST_BOARD:
    from firmware import pinmap_usbhost as pinmap  # type: ignore[no-redef]  # the USB host variant (docs/usb-host.md)

# The USB names are kept in four blocks allocated beside this script's heap, which is freed when
# boot.py ends: beside a heap of one area (8 KB) that left a 7.4 KB hole below them, too small
# for code.py's first area, so the box's heap began above them and gc.mem_free() (the heap's
# free blocks plus the largest block it may still grow into) never counted the hole. Grown by a
# second area first, the freed heap is a hole that code.py's first two areas (8 KB each) fill:
# the rest of RAM stays one block (docs/design.md, "Heap").
_grow = bytearray(9000)
del _grow

usb_midi.set_names(
    streaming_interface_name="Thruway MIDI",
    audio_control_interface_name="Thruway",
    in_jack_name="Thruway in",
    out_jack_name="Thruway out",
)
usb_midi.enable()

if hasattr(pinmap, "BUTTONS"):
    # The buttons on one ADC pin (firmware/button_ladder.py).
    import analogio

    from firmware.button_ladder import Ladder

    adc = analogio.AnalogIn(getattr(board, pinmap.BUTTONS))
    held = Ladder(adc).sample() & 1
    adc.deinit()
else:
    button1 = digitalio.DigitalInOut(getattr(board, pinmap.BUTTON1))
    button1.switch_to_input(pull=digitalio.Pull.UP)
    held = not button1.value  # pressed pulls the pin to GND
    button1.deinit()

if held:
    storage.remount("/", readonly=False)
    print("Thruway boot: button 1 held: the drive is read-only to the computer, writable by the box")
else:
    print("Thruway boot: the drive is writable by the computer (hold button 1 at power-up to lock it)")
