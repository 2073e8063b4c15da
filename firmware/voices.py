"""Which note each CV voice plays: the held-key stack of a part and the polyphonic allocator.

``firmware.cv`` owns one ``NoteStack`` per part (a mono voice, or the poly/unison group) and one
``PolyAllocator`` for the poly group. Both are fixed-size bytearrays: nothing here allocates
after construction, so the CV engine may call them for every MIDI message.

Facts carried over from Mutable Instruments Yarns (``part.cc``, stmlib's note stack and voice
allocator): a mono voice keeps every held key, so releasing the sounding key returns to another
held one chosen by the priority rule; a poly allocator gives a note already sounding back to its
own voice (a voice never plays two notes, a note never sounds on two voices, so one note-off
always ends it), prefers free voices, and steals the least recently used one when all are busy.
A key released while the sustain pedal is down stays in its stack, marked (``latch``), and
leaves it when the pedal is lifted (``release_latched``); pressed again, it is held again.
"""

from micropython import const

NONE = const(0xFF)
STACK_SIZE = const(16)  # held keys remembered per part; the oldest is forgotten beyond that
_LATCHED = const(0x80)  # in a key's velocity: released while the sustain pedal was down
MAX_VOICES = const(4)

# Mono note priority (``cv.voices[N].priority``).
PRIORITY_LAST = const(0)
PRIORITY_LOW = const(1)
PRIORITY_HIGH = const(2)
PRIORITY_NAMES = ("last", "low", "high")

# Poly allocation (``cv.poly.allocation``).
ALLOC_CYCLIC = const(0)  # the next voice in turn that is free; if none is, the next in turn
ALLOC_REUSE = const(1)  # a free voice that last played this note, else the least recently used
ALLOC_STEAL_OLDEST = const(2)  # the free voice released longest ago, else the oldest note's voice
ALLOC_LOW = const(3)  # voice 1 plays the lowest held note, voice 2 the next, ...
ALLOC_HIGH = const(4)  # voice 1 plays the highest held note, voice 2 the next, ...
ALLOC_NAMES = ("cyclic", "reuse", "steal_oldest", "low", "high")


class NoteStack:
    """Held keys in the order they were pressed (oldest first), with their velocities, and the
    same keys sorted by pitch. A key pressed again moves to the top. A velocity's top bit
    (``_LATCHED``) marks a key the sustain pedal holds."""

    def __init__(self):
        self.notes = bytearray(STACK_SIZE)
        self.vels = bytearray(STACK_SIZE)
        self.sorted = bytearray(STACK_SIZE)  # ascending
        self.n = 0

    def clear(self):
        self.n = 0

    def push(self, note, velocity):
        n = self.n
        notes = self.notes
        k = 0
        while k < n and notes[k] != note:
            k += 1
        if k < n or n == STACK_SIZE:
            self.remove(notes[k] if k < n else notes[0])
            n = self.n
        self.notes[n] = note
        self.vels[n] = velocity
        s = self.sorted
        k = n
        while k > 0 and s[k - 1] > note:
            s[k] = s[k - 1]
            k -= 1
        s[k] = note
        self.n = n + 1

    def remove(self, note):
        """Forget ``note``; False if it was not held."""
        n = self.n
        notes = self.notes
        k = 0
        while k < n and notes[k] != note:
            k += 1
        if k == n:
            return False
        vels = self.vels
        while k < n - 1:
            notes[k] = notes[k + 1]
            vels[k] = vels[k + 1]
            k += 1
        s = self.sorted
        k = 0
        while s[k] != note:
            k += 1
        while k < n - 1:
            s[k] = s[k + 1]
            k += 1
        self.n = n - 1
        return True

    def latch(self, note):
        """Mark held ``note`` as released under the sustain pedal (it stays held); False if it
        is not held."""
        n = self.n
        notes = self.notes
        k = 0
        while k < n and notes[k] != note:
            k += 1
        if k == n:
            return False
        self.vels[k] |= _LATCHED
        return True

    def release_latched(self):
        """Forget every key the pedal held (it was lifted); returns how many there were."""
        notes = self.notes
        vels = self.vels
        removed = 0
        k = 0
        while k < self.n:
            if vels[k] & _LATCHED:
                self.remove(notes[k])
                removed += 1
            else:
                k += 1
        return removed

    def pick(self, priority):
        """The note a mono voice plays under ``priority``, or NONE when no key is held."""
        n = self.n
        if not n:
            return NONE
        if priority == PRIORITY_LAST:
            return self.notes[n - 1]
        if priority == PRIORITY_LOW:
            return self.sorted[0]
        return self.sorted[n - 1]

    def nth(self, k, from_top):
        """The ``k``-th lowest held note (``from_top``: the k-th highest), or NONE."""
        n = self.n
        if k >= n:
            return NONE
        return self.sorted[n - 1 - k] if from_top else self.sorted[k]

    def velocity(self, note):
        n = self.n
        notes = self.notes
        k = 0
        while k < n:
            if notes[k] == note:
                return self.vels[k] & ~_LATCHED
            k += 1
        return 0


class PolyAllocator:
    """Voices of a poly group: the note each plays (or last played), whether it is held, and
    the order they were last used in (``order[0]`` least recently)."""

    def __init__(self):
        self.size = 0
        self.mode = ALLOC_CYCLIC
        self.note = bytearray(MAX_VOICES)
        self.held = bytearray(MAX_VOICES)
        self.order = bytearray(MAX_VOICES)
        self.next = 0
        self.reset(MAX_VOICES, ALLOC_CYCLIC)

    def reset(self, size, mode):
        self.size = size
        self.mode = mode
        self.next = 0
        for v in range(MAX_VOICES):
            self.note[v] = NONE
            self.held[v] = 0
            self.order[v] = v

    def release_all(self):
        for v in range(MAX_VOICES):
            self.held[v] = 0

    def _touch(self, v):
        # Move ``v`` to the end of the use order (most recently used).
        order = self.order
        size = self.size
        k = 0
        while order[k] != v:
            k += 1
        while k < size - 1:
            order[k] = order[k + 1]
            k += 1
        order[size - 1] = v

    def find(self, note):
        """The voice holding ``note``, or NONE."""
        v = 0
        while v < self.size:
            if self.held[v] and self.note[v] == note:
                return v
            v += 1
        return NONE

    def note_on(self, note):
        """The voice that plays ``note`` from now on (it may have been playing another note)."""
        v = self.find(note)
        if v == NONE:
            size = self.size
            held = self.held
            if self.mode == ALLOC_CYCLIC:
                k = 0
                while k < size:
                    c = (self.next + k) % size
                    if not held[c]:
                        v = c
                        break
                    k += 1
                if v == NONE:
                    v = self.next % size
                self.next = (v + 1) % size
            else:
                if self.mode == ALLOC_REUSE:
                    c = 0
                    while c < size:
                        if not held[c] and self.note[c] == note:
                            v = c
                            break
                        c += 1
                if v == NONE:
                    order = self.order
                    k = 0
                    while k < size:
                        if not held[order[k]]:
                            v = order[k]
                            break
                        k += 1
                    if v == NONE:
                        v = order[0]
        self.note[v] = note
        self.held[v] = 1
        self._touch(v)
        return v

    def note_off(self, note):
        """Release ``note``: the voice that held it, or NONE (a stolen or unknown note)."""
        v = self.find(note)
        if v != NONE:
            self.held[v] = 0
            self._touch(v)
        return v
