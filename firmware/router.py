"""Routing tables from a preset's routes: for each input, the outputs of each status byte,
and the transforms (channel remap per kind, transpose, velocity) of each input/output pair.

The merger looks a message's outputs up once, at its status byte (``masks[input][status]``),
so a filter by kind or channel costs nothing per data byte. Built at start-up and on a preset
switch, never on the byte path.

An output is a DIN or USB port, or ``cv``, the box's own CV engine: the merger queues to it like
to any port and the engine drains it.
"""

from firmware.midi import KIND_ALL, kind_of

# usbh: the USB host port (firmware/usb_host_port.py), last on both sides so a box without one
# (its Hardware lists stop before it) builds exactly the tables it always did.
INPUTS = ("in1", "in2", "in3", "in4", "usb", "usbh")
OUTPUTS = ("out1", "out2", "out3", "out4", "usb", "cv", "usbh")  # cv: the box's own CV engine
CV_OUTPUT = 5
USB_OUTPUT = OUTPUTS.index("usb")
ALL_CHANNELS = 0xFFFF


def build_masks(routes, n_in=len(INPUTS)):
    """``routes``: checked route dicts (see ``config``). Returns one bytearray(256) per input."""
    masks = [bytearray(256) for _ in range(n_in)]
    for route in routes:
        kinds = route.get("kinds", KIND_ALL)
        channels = route.get("channels", ALL_CHANNELS)
        for i in route["from"]:
            if i >= n_in:
                continue  # a port this box does not have (usbh)
            table = masks[i]
            bits = 0
            for o in route["to"]:
                if route.get("all_to") and OUTPUTS[o] == INPUTS[i]:
                    continue  # a USB input (usb, usbh) is never echoed back to itself by "all"
                bits |= 1 << o
            if not bits:
                continue
            for s in range(0x80, 0x100):
                if not kind_of(s) & kinds:
                    continue
                if s < 0xF0 and not channels & (1 << (s & 0x0F)):
                    continue
                table[s] |= bits
    return masks


def build_transforms(routes, n_in=len(INPUTS), n_out=len(OUTPUTS)):
    """Per input/output pair (index ``i * n_out + o``): None, or ``(smap, transpose, vtable,
    signature)`` for a route with ``remap``, ``transpose`` or ``velocity``.

    ``smap`` maps a channel status byte to the one sent (the channel remap per kind); ``vtable``
    maps a note-on velocity 1..127 to the one sent (never 0, which would turn it into a
    note-off). ``signature`` tells the merger whether a pair's transform changed on a switch."""
    out = [None] * (n_in * n_out)  # type: list
    for route in routes:
        remap = route.get("remap") or {}
        transpose = route.get("transpose", 0)
        velocity = route.get("velocity")
        if not remap and not transpose and not velocity:
            continue
        notes = remap.get(0x90, remap.get(0x80))
        if notes is not None:
            # Note-on and note-off always move together, or a note could never end.
            remap = dict(remap)
            remap[0x80] = remap[0x90] = notes
        smap = bytearray(256)
        for s in range(256):
            hi = s & 0xF0
            smap[s] = (hi | remap[hi]) if hi in remap else s
        vtable = None
        if velocity:
            scale, offset = velocity
            vtable = bytearray(128)
            for v in range(1, 128):
                w = (v * scale + 50) // 100 + offset
                vtable[v] = 1 if w < 1 else 127 if w > 127 else w
        signature = (tuple(sorted(remap.items())), transpose, tuple(velocity) if velocity else None)
        for i in route["from"]:
            for o in route["to"]:
                if i < n_in and o < n_out:
                    out[i * n_out + o] = (smap, transpose, vtable, signature)
    return out
