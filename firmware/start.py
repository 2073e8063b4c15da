"""Start-up: the box built from the hardware and config.json, once. ``app.run()`` calls
``build()``, then drops this module with the others only start-up uses (``app.START_UP_MODULES``)
so their code leaves the heap before the box plays (docs/design.md, "Heap"). ``app.Box`` is
wired here (``wire``: its fields, every preset's tables), so its construction code goes too.
"""

from micropython import const

from firmware import app, merger_setup, ports, router
from firmware.app import Box
from firmware.clock import Clock
from firmware.clock_setup import clock_outputs
from firmware.clock_setup import prepare as prepare_clock
from firmware.cv import CvEngine
from firmware.defaults import DEFAULT_CLOCK
from firmware.merger import BITS, MASTER_AUTO, MASTER_INTERNAL, Merger
from firmware.panel import Panel

# What one pass reads of the USB input: one message. A computer sends USB MIDI as fast as the
# box takes it, and a pass forwards all it read (a 64-byte read of notes held the loop 12 ms on
# the board engine, so a DIN clock byte waited as long). USB is the input that can wait (its
# host keeps what the box has not read), so it takes the smallest bite.
_USB_READ_SIZE = const(3)


def wire(box, inputs, outputs, ticks_ms, settings, errors, clock):
    """Everything the main loop touches, wired together into ``box`` (an ``app.Box``)."""
    box.inputs = inputs
    box.outputs = outputs
    box.ticks_ms = ticks_ms
    box.errors = list(errors)
    usb = router.INPUTS.index("usb")
    usbh = router.OUTPUTS.index("usbh")  # BITS covers the outputs before it
    if len(outputs) > usbh and len(BITS) == 1 << usbh:
        # A box with usbh: the masks with its bit, once, in place (only such a box pays for them).
        for m in range(1 << usbh):
            BITS.append(bytes(BITS[m]) + bytes((usbh,)))
    box.merger = Merger(len(inputs), len(outputs), usb)
    # The CV engine is the internal output ``cv`` (None when a Box is built without it). It
    # takes whole messages, each with its status byte (``CvEngine.take``), not bytes.
    box.cv = outputs[router.CV_OUTPUT] if len(outputs) > router.CV_OUTPUT else None
    merger_setup.set_outputs(box.merger, outputs, 0 if box.cv is None else 1 << router.CV_OUTPUT)
    for o in range(len(outputs)):
        if outputs[o] is None:
            box.merger.present &= ~(1 << o)
    # Running status per DIN output (config ``outputs``). Never on USB: a USB-MIDI packet
    # carries one whole message, and TinyUSB sends running-status data bytes as single-byte
    # packets (code index 0xF) that hosts do not take as messages (docs/board-engine.md).
    # Never into the CV engine, which wants every message whole.
    port_settings = settings.get("outputs", {})
    rs = 0
    for o in range(min(len(outputs), router.CV_OUTPUT)):
        if o != router.USB_OUTPUT and port_settings.get(router.OUTPUTS[o], {}).get("running_status", True):
            rs |= 1 << o
    merger_setup.set_output_modes(box.merger, rs, box.merger.present)
    # The clock: tempo, transport and the clock/reset/run jacks (jackless when none given).
    box.clock = clock if clock is not None else Clock(None, None, None, None, ticks_ms)
    box.clock.follow(box.merger.clock_master)
    # The inputs that exist, with their index: the pass polls them without a None test.
    # While some input waits (its output cannot take its next message: firmware/merger.py,
    # rule 3) the pass polls ``WaitingPass`` instead, which reads them all: the idle pass
    # pays nothing for it.
    # Each with its reader (firmware.ports: a stream's own readinto where it never waits) and
    # the buffer its reads land in: the USB input's is the first _USB_READ_SIZE bytes of it.
    box.buf = bytearray(ports.READ_SIZE)
    usb_buf = memoryview(box.buf)[:_USB_READ_SIZE]
    box.polled_free = [(i, getattr(inputs[i], "reader", inputs[i].read), usb_buf if i == usb else box.buf)
                       for i in range(len(inputs)) if inputs[i] is not None]
    by_input = [None] * len(inputs)  # type: list
    for entry in box.polled_free:
        by_input[entry[0]] = entry
    box.waiting = app.WaitingPass(box.polled_free, box.merger, usb, by_input)
    box.polled_waiting = [(-1, box.waiting.read, box.buf)]
    box.polled = box.polled_free
    box.tick = -1  # the ms tick the once-a-tick work last ran in
    box.routing, box.settings = presets(box.merger, box.cv, settings, len(inputs), len(outputs))
    # What a switch installs, per preset, read once here: the clock setup, clock outputs and
    # master for the merger, the CV setup (nothing parsed or allocated while playing).
    box.switches = switches(box)
    box.on_enter = [_on_enter(p.get("on_enter")) for p in settings["presets"]]
    # Format 2's routing events, wired only when some preset uses them (route_events' code
    # then joins the heap): follow, on_enter, program changes that select presets (never
    # forwarded: router).
    select = settings.get("preset_select")
    follows = any(route.get("follow") for p in settings["presets"] for route in p["routes"])
    entered = any(box.on_enter)
    # Pairs several routes transform (a split or a layer on one output): firmware.shared_pairs.
    shared = any(x is not None and x[0] is None for _, pairs in box.routing if pairs for x in pairs)
    enter = None
    select_hook = follow_hook = None
    if select is not None or follows or entered:
        from firmware import route_events

        if select is not None:
            box.merger.selector = (0xC0 | select[1]) | (select[0] << 8)
            select_hook = route_events.selector(box)
        if follows:
            follow_hook = route_events.follow_moved
        if entered:
            enter = route_events.enter
    if select_hook or follow_hook or shared:
        if shared:
            from firmware import shared_pairs
        box.merger.route_hooks = (select_hook, follow_hook, shared_pairs if shared else None)
    # The sections themselves are not kept (the heap): a preset keeps its name.
    for preset in box.settings["presets"]:
        preset.pop("cv", None)
        preset.pop("clock", None)
    box.preset = 0
    box.routes_due = -1
    box.cv_due = -1
    box.cv_refresh = False
    box.announce = -1
    box.panel = None  # firmware.panel.Panel, attached by start.build() (tests may leave it out)
    box.enter = None  # the power-up preset's on_enter is sent once build() knows it
    box.select_preset(0)
    box.enter = enter


def _on_enter(entries):
    # A preset's on_enter as bytes, 4 a message (output, status, data1, data2): bank select
    # (CC 0, and CC 32 with an lsb), then the program change. None when it has none.
    if not entries:
        return None
    out = bytearray()
    for o, ch, program, msb, lsb in entries:
        if msb >= 0:
            out.extend(bytes((o, 0xB0 | ch, 0, msb)))
        if lsb >= 0:
            out.extend(bytes((o, 0xB0 | ch, 32, lsb)))
        out.extend(bytes((o, 0xC0 | ch, program, 0)))
    return bytes(out)


def switches(box):
    # Per preset: (clock setup, clock outputs' send mask, their dividers, master mode, CV
    # setup). Presets with the same clock object share its part.
    clocks = []  # type: list  # (clock object, its part of the entry)
    out = []
    for n, preset in enumerate(box.settings["presets"]):
        clock = preset.get("clock", DEFAULT_CLOCK)
        part = None
        for known, p in clocks:
            if known is clock:
                part = p
        if part is None:
            send, divide = clock_outputs(clock)
            part = (prepare_clock(clock), send, divide, _master_mode(clock.get("master", "auto")))
            clocks.append((clock, part))
        cv = None
        if box.cv is not None:
            cv = box.cv.prepare(preset.get("cv"), box.settings.get("calibration"))
        out.append(part + (cv,))
    return out


def _master_mode(name):
    # config's clock.master -> merger.set_master: the box's own clock (internal, or the clock-in
    # jack) makes the merger drop every external clock and transport byte.
    if name == "internal" or name == "clock_in":
        return MASTER_INTERNAL
    if name in router.INPUTS:
        return router.INPUTS.index(name)
    return MASTER_AUTO


def presets(merger, cv, settings, n_in, n_out):
    """``(routing, switch_settings)`` for a Box: every preset's routing tables (``(masks,
    transforms)`` for ``Merger.set_input_routes``) and what a preset switch reads (``{"presets":
    [{"name", "clock", "cv"}], "calibration"}``, from which ``Box`` has the CV engine ``cv``
    prepare each preset's setup and DAC tables). Building tables takes tens of ms on the RP2040,
    too long for a switch while playing (issue 14: no pass over 1 ms), so it happens here, once. Tables are read-only once
    built, so equal ones (an input with the same routes in several presets, inputs without
    routes, a transform or a clock section several presets spell alike) are one object: 16
    presets of a live set fit. The routes themselves are not kept: they are the tables."""
    routing = []
    tables = []  # type: list  # the distinct bytearrays so far
    lists = []  # type: list  # the distinct lists of them
    transforms = {}  # type: dict  # signature -> the one transform
    for preset in settings["presets"]:
        routes = preset["routes"]
        built = router.build_masks(routes, n_in, settings.get("version", 1) >= 2, settings.get("preset_select"))
        masks = [_table(tables, t) for t in merger_setup.prepare_routes(merger, built)]
        pairs = [_transform(transforms, tables, t) for t in router.build_transforms(routes, n_in, n_out)]
        # None when the preset transforms nothing: a switch then skips the per-pair compares.
        routing.append((_list(lists, masks), _list(lists, pairs) if any(pairs) else None))
    seen = []  # type: list  # the distinct settings parts so far
    switch = {
        "presets": [{"name": p["name"], "clock": _deduped(seen, p.get("clock", DEFAULT_CLOCK)),
                     "cv": _deduped(seen, p.get("cv"))} for p in settings["presets"]],
        "calibration": _deduped(seen, settings.get("calibration")),  # jacks left alone: one dict
    }
    return routing, switch


def _table(tables, table):
    # The bytearray equal to ``table`` among ``tables`` (compared in place: no copy as a key).
    if table is None:
        return None
    for known in tables:
        if known == table:
            return known
    tables.append(table)
    return table


def _list(lists, items):
    # The list among ``lists`` holding the very same objects as ``items``.
    for known in lists:
        if len(known) == len(items):
            k = 0
            while k < len(items) and known[k] is items[k]:
                k += 1
            if k == len(items):
                return known
    lists.append(items)
    return items


def _deduped(seen, value):
    # ``value`` (checked settings: dicts, lists, scalars) with every dict and list equal to one
    # in ``seen`` replaced by that one, in place (no copy: start-up memory is at its peak here).
    # Read-only from here on.
    if isinstance(value, dict):
        for k in value:
            value[k] = _deduped(seen, value[k])  # same keys: the dict does not grow
    elif isinstance(value, list):
        for n in range(len(value)):
            value[n] = _deduped(seen, value[n])
    else:
        return value
    for known in seen:
        if _same(known, value):
            return known
    seen.append(value)
    return value


def _same(a, b):
    # Equal, with the same types throughout (True is not 1 here); parts already shared.
    if type(a) is not type(b) or len(a) != len(b):
        return False
    if isinstance(a, dict):
        for k in a:
            if k not in b or not _same_item(a[k], b[k]):
                return False
        return True
    for n in range(len(a)):
        if not _same_item(a[n], b[n]):
            return False
    return True


def _same_item(x, y):
    return x is y or (type(x) is type(y) and not isinstance(x, (dict, list)) and x == y)


def _transform(transforms, tables, transform):
    # A transform (smap, ntable, vtable, signature, ctable, follow) is fixed by its signature;
    # a pair several routes transform, ``(None, parts, None, signature, ctable, None)``, by its
    # parts' signatures.
    if transform is None:
        return None
    found = transforms.get(transform[3])
    if found is None:
        smap, ntable, vtable, signature, ctable, follow = transform
        if smap is None:
            parts = tuple(_transform(transforms, tables, part) for part in ntable)
            found = (None, parts, None, signature, _table(tables, ctable), None)
        else:
            found = (_table(tables, smap), _table(tables, ntable), _table(tables, vtable), signature,
                     _table(tables, ctable), _table(tables, follow))
        transforms[signature] = found
    return found


def load_settings(text):
    """``config.load(text)``, then the checker is dropped from memory: it runs once at start-up
    and its code is about 19 KB of the heap (on the board as on the MicroPython VM). The
    top-level dict is copied because the one the checker built keeps the module alive (measured
    on the VM). Returns ``(settings, errors)``."""
    import sys

    import firmware
    from firmware import config

    settings, errors = config.load(text)
    settings = dict(settings)
    del config
    sys.modules.pop("firmware.config", None)
    if hasattr(firmware, "config"):
        delattr(firmware, "config")
    return settings, errors


def build():
    """The box, built on the real (or simulated) hardware, in ``app.box``. Everything only
    start-up needs (the config text and checker, ``board_io`` and its ``Hardware``, the full
    settings) is local here and leaves the heap when this returns."""
    from firmware import board_io

    hw = board_io.Hardware()
    hw.outputs[router.CV_OUTPUT] = CvEngine(hw, hw.ticks_ms)
    settings, errors = load_settings(hw.read_config())
    if errors:
        print("config.json not used (%d problem%s): running the safe default, everything merged"
              % (len(errors), "" if len(errors) == 1 else "s"))
    for message in errors:
        print("config error:", message)
    for fault in hw.faults:
        print("fault:", fault)
    jacks = Clock(hw.clock_out, hw.reset_out, hw.run_out, hw.clock_in, hw.ticks_ms, hw.metronome, hw.pulse_timer)
    box = app.box = Box(hw.inputs, hw.outputs, hw.ticks_ms, settings, errors, clock=jacks)
    # The front panel. The box starts in the preset it was last in (NVM), if this config has it.
    panel = Panel(hw.buttons, hw.write_leds, hw.nvm, None, len(settings["presets"]), settings["panel"],
                  box.merger.last_rx, hw.ticks_ms(), error=bool(errors), fault=bool(hw.faults))
    box.panel = panel
    panel.transport = box.clock
    if hw.usb_host is not None:
        hw.usb_host.lost = box.merger.input_lost  # an unplugged device's notes are released
    stored = panel.stored_preset()
    if stored is not None and stored != box.preset:
        box.select_preset(stored)
    elif box.enter is not None:
        box.enter(box, box.preset)
    # Armed last: start-up (config check, DAC probe) may take longer than a loop pass ever may.
    panel.watchdog = hw.start_watchdog(app.WATCHDOG_S)
    return box
