"""Fake ``usb_host`` (CircuitPython ``ports/raspberrypi/common-hal/usb_host/Port.c``): one host
port on two adjacent GPIOs, running Pico-PIO-USB on a whole PIO block.

Exists where the simulated board has a USB host socket (the Pico 2 variant); on the plain Pico
run the module is there too (CircuitPython builds it for every RP2040 board), and nothing on the
pins answers."""

import rp2pio as _rp2pio  # the fake: its PIO blocks

from host_tools.sim import world as _world
from host_tools.sim.pins import Pin, claim


class Port:
    """``Port(dp, dm)``: D- must be the GPIO next to D+ (either side). One per board: a second
    call with the same pins gives the same port, with others raises RuntimeError."""

    def __new__(cls, dp, dm):
        w = _world.current()
        if not isinstance(dp, Pin) or not isinstance(dm, Pin):
            raise TypeError("dp and dm must be of type Pin")
        existing = w.__dict__.get("usb_host_port")
        if existing is not None:
            if (existing.dp, existing.dm) == (dp, dm):
                return existing
            raise RuntimeError("usb_host in use")
        if abs(dp.number - dm.number) != 1:
            raise ValueError("Invalid pins")
        # get_usb_pio(): the first block with all 4 state machines free and all 32 words.
        blocks = _rp2pio._blocks(w)
        for block in blocks:
            if block["sms"] == 0 and not any(block["used"]):
                break
        else:
            raise RuntimeError("All state machines in use")
        claim(dp, "usb_host")
        claim(dm, "usb_host")
        block["sms"] = 4
        block["used"] = [True] * len(block["used"])
        w.__dict__.setdefault("pio_state_machines", [0])[0] += 4
        port = object.__new__(cls)
        port.dp, port.dm = dp, dm
        w.usb_host_port = port
        return port
