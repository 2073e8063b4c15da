# The front panel on the MicroPython VM: the real firmware.panel.Panel.service() as the main loop
# calls it, with button presses and releases (debounced), long presses, the tap/start-stop
# combination, input activity, the status blink and the LED writes they cause, and watchdog
# feeding: every pass allocates nothing; nor does the NVM save after a preset change (one slice
# assignment). tests/test_hot_paths.py runs this file.
import mpharness

from firmware import panel


class Pin:
    def __init__(self):
        self.value = True  # pull-up: not pressed


class Dog:
    def __init__(self):
        self.fed = 0

    def feed(self):
        self.fed += 1


class Leds:
    def __init__(self):
        self.writes = 0
        self.last = bytearray(27)

    def write(self, buf):
        self.writes += 1
        for k in range(27):
            self.last[k] = buf[k]


pins = [Pin(), Pin(), Pin(), Pin()]
leds = Leds()
dog = Dog()
nvm = bytearray(256)
last_rx = [0, 0, 0, 0, 0]
p = panel.Panel(pins, leds.write, nvm, dog, 8, {"brightness": 0.2, "long_press_ms": 600}, last_rx, 0,
                error=True)
state = [0, 0]  # now, actions seen
# A script of (ms, button, pressed) edges with some contact bounce, repeated every 4 s.
SCRIPT = (
    (100, 1, True), (101, 1, False), (102, 1, True), (180, 1, False),  # short press 2 (bouncing)
    (400, 0, True), (1700, 0, False),  # long press 1: steps back, repeating
    (2000, 3, True), (2300, 2, True), (2350, 2, False), (2700, 2, True), (2760, 2, False), (2900, 3, False),  # taps
    (3200, 2, True), (3230, 3, True), (3300, 2, False), (3310, 3, False),  # start/stop
)
script = [0, 0]  # next edge, previous t


def passes():
    # One 4 s round of the script at 6 main-loop passes a millisecond: scans, LED refreshes,
    # feeds, every kind of action.
    for _ in range(24000):
        state[0] += 1
        now = state[0] // 6
        t = now % 4000
        if t < script[1]:
            script[0] = 0  # the script starts over
        script[1] = t
        k = script[0]
        if k < len(SCRIPT) and t >= SCRIPT[k][0]:
            edge = SCRIPT[k]
            pins[edge[1]].value = not edge[2]  # pressed pulls the pin low
            script[0] = k + 1
        if now % 37 == 0:
            last_rx[now % 4] = now  # an input byte now and then: activity LEDs
        action = p.service(now, 0)
        if action:
            state[1] += 1
            if action >= panel.ACTION_PRESET:
                p.set_preset(action - panel.ACTION_PRESET, now)


mpharness.check_no_alloc("panel_service", passes, warmup=1)
print("PANEL_ACTIONS", state[1], "LED_WRITES", leds.writes, "FEEDS", dog.fed, "NVM_WRITES", p.nvm_writes)


def save():
    # A preset change that has stayed long enough: the one NVM write (one slice assignment).
    now = state[0] // 6
    p.set_preset((p.preset + 1) % 8, now - panel.NVM_SAVE_MS - 1)
    p.next_feed = now
    p.service(now + 1, 0)
    state[0] += 12


before = p.nvm_writes
mpharness.check_no_alloc("panel_nvm_save", save, warmup=1)
print("NVM_SAVES", p.nvm_writes - before)
