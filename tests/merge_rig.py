"""A box on a bench for the merge tests: the real ``app.Box`` (merger, waiting inputs, preset
switches) between inputs that hand bytes out at their wire rate and outputs that take bytes
at theirs, one main-loop pass at a time, in virtual milliseconds (6 passes a ms, about the
Pico's 0.16 ms pass).

DIN moves 31,250 baud: about one byte every two passes, each way. USB hands what the box reads
(a message a pass) and takes 64 bytes a pass. What each output sent is recorded."""

import json

from host_tools import fwimport

app = fwimport.firmware_module("app")
config = fwimport.firmware_module("config")
merger = fwimport.firmware_module("merger")

PASSES_PER_MS = 6
_REALTIME_FULL = merger.DROP_REASON_NAMES.index("realtime_full")
DIN_BYTES_PER_PASS = 0.53  # 3,125 bytes/s at 6 passes a ms
USB_BYTES_PER_PASS = 64

# Two presets that route alike: the second has a velocity transform (+1), so a switch ends
# every sounding note through the old transform (the box's own note-offs).
DIN_IN = ["in1", "in2", "in3", "in4"]
OUT = ["out1", "out2", "out3", "out4"]


def _merge_all(**transform):
    # Every input to every output but the CV engine (no CV here); USB is not echoed to USB.
    return [dict(transform, **{"from": DIN_IN, "to": OUT + ["usb"]}), dict(transform, **{"from": "usb", "to": OUT})]


CONFIG = {
    "version": 1,
    "presets": [
        {"name": "Merge all", "routes": _merge_all()},
        {"name": "Velocity +1", "routes": _merge_all(velocity={"scale": 100, "offset": 1})},
    ],
}


class WireIn:
    """An input: bytes the test queued, handed out no faster than the wire brings them."""

    def __init__(self, rate):
        self.rate = rate
        self.data = bytearray()
        self.sent = bytearray()  # everything ever queued, for the model
        self.pos = 0
        self.credit = 0.0

    def queue(self, data):
        self.data += data
        self.sent += data

    def tick(self):
        self.credit = min(self.credit + self.rate, 64.0)

    def read(self, buf):
        n = min(len(self.data) - self.pos, int(self.credit), len(buf))
        if n <= 0:
            return 0
        buf[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        self.credit -= n
        if self.pos > 4096:
            del self.data[:self.pos]
            self.pos = 0
        return n

    def idle(self):
        return self.pos >= len(self.data)


class WireOut:
    """An output that takes bytes no faster than its wire carries them, and records them."""

    def __init__(self, rate):
        self.rate = rate
        self.credit = 0.0
        self.data = bytearray()

    def tick(self):
        self.credit = min(self.credit + self.rate, 8.0 if self.rate < 1 else 64.0)

    def send(self, buf, start, end, now):
        n = min(end - start, int(self.credit))
        if n <= 0:
            return 0
        self.data += bytes(buf[start:start + n])
        self.credit -= n
        return n


class ListPort:
    """An output that takes everything it is sent at once, and records it."""

    def __init__(self):
        self.data = bytearray()

    def send(self, buf, start, end, now):
        self.data.extend(buf[start:end])
        return end - start


class Rig:
    def __init__(self, cfg=CONFIG, inputs=None):
        settings, errors = config.load(json.dumps(cfg))
        assert not errors, errors
        self.inputs = inputs or [WireIn(DIN_BYTES_PER_PASS) for _ in range(4)] + [WireIn(USB_BYTES_PER_PASS)]
        self.outputs = [WireOut(DIN_BYTES_PER_PASS) for _ in range(4)] + [WireOut(USB_BYTES_PER_PASS)]
        self.t = 0
        self.passes = 0
        self.box = app.Box(self.inputs, self.outputs, lambda: self.t, settings)
        self.m = self.box.merger

    def step(self, n=1):
        for _ in range(n):
            for p in self.inputs:
                if p is not None:  # an absent input (a port that failed at power-up)
                    p.tick()
            for p in self.outputs:
                p.tick()
            self.box.step()
            self.passes += 1
            if self.passes % PASSES_PER_MS == 0:
                self.t += 1

    def settle(self, limit_ms=60000):
        """Run until every input is read and taken, a preset switch has installed every input's
        routes (one a ms tick) and every output has sent everything."""
        for _ in range(limit_ms * PASSES_PER_MS):
            if (all(p is None or p.idle() for p in self.inputs) and not self.m.stalled and self.box.routes_due < 0
                    and not any(self.m.pending(o) for o in range(len(self.outputs)))):
                return
            self.step()
        raise AssertionError("the box did not settle in %d ms" % limit_ms)

    def counters(self):
        # The merger's drops in the model's terms (merge_model.check): the model leaves timing
        # bytes out of what each output misses, so the drops of timing bytes (realtime_full: a
        # full timing lane) are left out here too; timing_drops() has them.
        n = merger.N_DROP_REASONS
        return [0 if k % n == _REALTIME_FULL else v for k, v in enumerate(self.m.dropped)], self.m.coalesced, n

    def timing_drops(self, o):
        return self.m.dropped[o * merger.N_DROP_REASONS + _REALTIME_FULL]
