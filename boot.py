"""Runs once at power-up, before USB starts: name the USB MIDI device."""

import usb_midi

usb_midi.set_names(
    streaming_interface_name="Thruway MIDI",
    audio_control_interface_name="Thruway",
    in_jack_name="Thruway in",
    out_jack_name="Thruway out",
)
usb_midi.enable()
