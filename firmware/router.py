"""Routing tables from a preset's routes: for each input, the outputs of each status byte,
and the transforms (channel remap per kind, transpose, velocity) of each input/output pair.

The merger looks a message's outputs up once, at its status byte (``masks[input][status]``),
so a filter by kind or channel costs nothing per data byte. Built for every preset at start-up
(``firmware.start``), never on the byte path; the module then leaves the heap
(``app.START_UP_MODULES``).

An output is a DIN or USB port, or ``cv``, the box's own CV engine: the merger queues to it like
to any port (only the kinds in ``CV_KINDS``) and hands it whole messages.
"""

from firmware.midi import (
    KIND_ALL,
    KIND_CHANNEL_PRESSURE,
    KIND_CONTROL_CHANGE,
    KIND_NOTES,
    KIND_PITCH_BEND,
    KIND_POLY_PRESSURE,
    KIND_RESET,
    KIND_TRANSPORT,
    kind_of,
)

# usbh: the USB host port (firmware/usb_host_port.py), last on both sides so a box without one
# (its Hardware lists stop before it) builds exactly the tables it always did.
INPUTS = ("in1", "in2", "in3", "in4", "usb", "usbh")
DROP = 0xFF  # in a note or controller table: not sent
OUTPUTS = ("out1", "out2", "out3", "out4", "usb", "cv", "usbh")  # cv: the box's own CV engine
CV_OUTPUT = 5
USB_OUTPUT = OUTPUTS.index("usb")
ALL_CHANNELS = 0xFFFF
# What reaches the CV engine, whatever a route to ``cv`` lists: the messages it plays (Stop and
# Reset end its notes; Start and Continue come with transport). The merger hands it whole
# messages from its queue (``Merger.write_outputs``), which holds no SysEx nor system common.
CV_KINDS = (KIND_NOTES | KIND_POLY_PRESSURE | KIND_CONTROL_CHANGE | KIND_CHANNEL_PRESSURE | KIND_PITCH_BEND
            | KIND_TRANSPORT | KIND_RESET)


# Clock, transport and song position: in config format 2 they go where the clock section says
# (master, send, divide: firmware.clock_master), whatever the routes carry.
CLOCK_STATUSES = (0xF8, 0xFA, 0xFB, 0xFC, 0xF2, 0xF3)


def build_masks(routes, n_in=len(INPUTS), clock_to_all=False, select=None):
    """``routes``: checked route dicts (see ``config``). Returns one bytearray(256) per input.
    ``clock_to_all`` (format 2): every input's clock statuses reach every output (but usb to
    usb), for the clock master rules to narrow. ``select``: (input, channel) whose program
    changes select presets and are not forwarded."""
    masks = [bytearray(256) for _ in range(n_in)]
    if clock_to_all:
        every = (1 << len(OUTPUTS)) - 1
        for i in range(n_in):
            bits = every & ~(1 << USB_OUTPUT) if INPUTS[i] == "usb" else every
            for s in CLOCK_STATUSES:
                masks[i][s] = bits
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
    cv_bit = 1 << CV_OUTPUT
    for s in range(0x80, 0x100):
        if not kind_of(s) & CV_KINDS:
            for table in masks:
                table[s] &= ~cv_bit
    if select is not None:
        masks[select[0]][0xC0 | select[1]] = 0
    return masks


def build_transforms(routes, n_in=len(INPUTS), n_out=len(OUTPUTS)):
    """Per input/output pair (index ``i * n_out + o``): None, or ``(smap, ntable, vtable,
    signature, ctable, follow)`` for a route with a transform (``config.is_transform``).

    ``smap`` maps a channel status byte to the one sent (the channel remap per kind); ``ntable``
    (or None) maps a note (and poly pressure key) to the one sent, ``DROP`` outside the route's
    ``notes`` range or pushed out of 0..127 by ``transpose``; ``vtable`` maps a note-on velocity
    1..127 to the one sent (never 0, which would turn it into a note-off); ``ctable`` (or None)
    maps a controller number to the one sent (``cc_map``), ``DROP`` for one ``controllers``
    does not list; ``follow`` (or None) holds per status high nibble (index ``hi >> 4``) the
    followed input + 1, whose last note-on channel that kind takes. ``signature`` tells the
    merger whether a pair's transform changed on a switch. A route without a table pays nothing
    for it: the merger tests each for None.

    Several transform routes joining one pair (a keyboard split or a layer onto one output,
    at most ``MAX_COPIES``: config) make the pair's entry ``(None, parts, None, signature,
    ctable, None)``: ``parts`` the routes' transforms in route order, each ``smap`` with 0 for
    the channel statuses its route does not carry (kinds, channels); ``ctable`` one of the
    parts' ctables when any has one (``Merger._strand_controllers`` asks only whether any maps controllers);
    ``signature`` the parts' signatures. A message leaves once per part that sends it."""
    out = [None] * (n_in * n_out)  # type: list
    had_route = [None] * (n_in * n_out)  # type: list  # the route that made each pair's transform
    for route in routes:
        remap = route.get("remap") or {}
        transpose = route.get("transpose", 0)
        velocity = route.get("velocity")
        notes_range = route.get("notes")
        controllers = route.get("controllers")
        cc_map = route.get("cc_map") or {}
        follow_in = route.get("follow") or {}
        if not (remap or transpose or velocity or notes_range or controllers or cc_map or follow_in):
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
        ntable = None
        if transpose or notes_range:
            low, high = notes_range or (0, 127)
            ntable = bytearray(128)
            for n in range(128):
                t = n + transpose
                ntable[n] = t if low <= n <= high and 0 <= t <= 127 else DROP
        vtable = None
        if velocity:
            scale, offset = velocity
            vtable = bytearray(128)
            for v in range(1, 128):
                w = (v * scale + 50) // 100 + offset
                vtable[v] = 1 if w < 1 else 127 if w > 127 else w
        ctable = None
        if controllers is not None or cc_map:
            ctable = bytearray(128)
            for c in range(128):
                ctable[c] = cc_map.get(c, c) if controllers is None or controllers[c] else DROP
        follow = None
        if follow_in:
            follow = bytearray(16)
            for hi in follow_in:
                follow[hi >> 4] = follow_in[hi] + 1
        signature = (tuple(sorted(remap.items())), transpose, tuple(velocity) if velocity else None,
                     tuple(notes_range) if notes_range else None, bytes(ctable) if ctable else None,
                     tuple(sorted(follow_in.items())))
        single = (smap, ntable, vtable, signature, ctable, follow)
        for i in route["from"]:
            for o in route["to"]:
                if i >= n_in or o >= n_out:
                    continue
                had = out[i * n_out + o]
                if had is None:
                    out[i * n_out + o] = single
                    continue
                parts = had[1] if had[0] is None else (_part(had, had_route[i * n_out + o]),)
                parts = parts + (_part(single, route),)
                ctable_any = None
                for part in parts:
                    ctable_any = ctable_any or part[4]
                out[i * n_out + o] = (None, parts, None, tuple(part[3] for part in parts), ctable_any, None)
        for i in route["from"]:
            for o in route["to"]:
                if i < n_in and o < n_out:
                    had_route[i * n_out + o] = route
    return out


def _part(transform, route):
    # One route's transform as a part of a shared pair: its status map carries only the channel
    # statuses the route carries (0 for the others), its signature says which.
    smap, ntable, vtable, signature, ctable, follow = transform
    kinds = route.get("kinds", KIND_ALL)
    channels = route.get("channels", ALL_CHANNELS)
    carried = bytearray(smap)
    for s in range(0x80, 0xF0):
        if not (kind_of(s) & kinds and channels & (1 << (s & 0x0F))):
            carried[s] = 0
    return (carried, ntable, vtable, signature + (kinds, channels), ctable, follow)
