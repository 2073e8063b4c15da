"""The note stack and the poly allocator (firmware/voices.py), against plain-Python models.

Hypothesis drives random key presses and releases; every step is checked against a model that
says what a musician expects: the stack returns to the right held key, a voice never plays two
notes, a note never sounds on two voices, a released note frees its voice, free voices are used
before any is stolen, and each allocation rule picks the voice it promises."""

from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools import fwimport

voices = fwimport.firmware_module("voices")
NONE = voices.NONE
NoteStack = voices.NoteStack
PolyAllocator = voices.PolyAllocator

notes = st.integers(0, 127)
# A small note range makes repeats (the same key twice, release of a stolen note) common.
few_notes = st.integers(40, 52)
ops = st.lists(st.tuples(st.booleans(), few_notes, st.integers(1, 127)), max_size=80)


def model_pick(model, priority):
    if not model:
        return NONE
    if priority == voices.PRIORITY_LAST:
        return model[-1][0]
    if priority == voices.PRIORITY_LOW:
        return min(n for n, _ in model)
    return max(n for n, _ in model)


@settings(max_examples=300, deadline=None)
@given(ops)
def test_note_stack_matches_a_list_model(sequence):
    stack = NoteStack()
    model = []  # [(note, velocity)], oldest first
    for press, note, vel in sequence:
        if press:
            model = [e for e in model if e[0] != note] + [(note, vel)]
            if len(model) > voices.STACK_SIZE:
                model.pop(0)
            stack.push(note, vel)
        else:
            held = any(n == note for n, _ in model)
            assert stack.remove(note) == held
            model = [e for e in model if e[0] != note]
        assert stack.n == len(model)
        assert list(stack.notes[: stack.n]) == [n for n, _ in model]
        assert list(stack.vels[: stack.n]) == [v for _, v in model]
        assert list(stack.sorted[: stack.n]) == sorted(n for n, _ in model)
        for prio in (voices.PRIORITY_LAST, voices.PRIORITY_LOW, voices.PRIORITY_HIGH):
            assert stack.pick(prio) == model_pick(model, prio)
        ascending = sorted(n for n, _ in model)
        for k in range(5):
            assert stack.nth(k, False) == (ascending[k] if k < len(ascending) else NONE)
            assert stack.nth(k, True) == (ascending[::-1][k] if k < len(ascending) else NONE)
        for n, v in model:
            assert stack.velocity(n) == v


# Key presses and releases with the sustain pedal: 0 press, 1 release, 2 pedal down, 3 pedal up.
pedal_ops = st.lists(st.tuples(st.integers(0, 3), few_notes, st.integers(1, 127)), max_size=80)


@settings(max_examples=300, deadline=None)
@given(pedal_ops)
def test_the_pedal_keeps_released_keys_held_until_it_is_lifted(sequence):
    stack = NoteStack()
    model = []  # [note, velocity, latched], oldest first
    down = False
    for op, note, vel in sequence:
        if op == 0:
            model = [e for e in model if e[0] != note] + [[note, vel, False]]
            if len(model) > voices.STACK_SIZE:
                model.pop(0)
            stack.push(note, vel)
        elif op == 1:
            held = any(e[0] == note for e in model)
            if down:
                assert stack.latch(note) == held
                for e in model:
                    if e[0] == note:
                        e[2] = True
            else:
                assert stack.remove(note) == held
                model = [e for e in model if e[0] != note]
        elif op == 2:
            down = True
        else:
            down = False
            assert stack.release_latched() == sum(1 for e in model if e[2])
            model = [e for e in model if not e[2]]
        assert list(stack.notes[: stack.n]) == [e[0] for e in model]
        assert list(stack.sorted[: stack.n]) == sorted(e[0] for e in model)
        for prio in (voices.PRIORITY_LAST, voices.PRIORITY_LOW, voices.PRIORITY_HIGH):
            assert stack.pick(prio) == model_pick([(e[0], e[1]) for e in model], prio)
        for n, v, _ in model:
            assert stack.velocity(n) == v  # a held key's velocity, never the mark
    if down:
        stack.release_latched()
        for e in model:
            if e[2]:
                assert stack.velocity(e[0]) == 0  # gone once the pedal is lifted


def test_releasing_the_sounding_key_returns_to_the_held_one():
    stack = NoteStack()
    for n in (60, 64, 67):
        stack.push(n, 100)
    assert stack.pick(voices.PRIORITY_LAST) == 67
    stack.remove(67)
    assert stack.pick(voices.PRIORITY_LAST) == 64
    stack.push(55, 90)
    assert stack.pick(voices.PRIORITY_LOW) == 55
    assert stack.pick(voices.PRIORITY_HIGH) == 64
    stack.remove(64)
    stack.remove(55)
    assert stack.pick(voices.PRIORITY_LAST) == 60
    assert stack.velocity(60) == 100
    stack.remove(60)
    assert stack.pick(voices.PRIORITY_LAST) == NONE


def test_a_full_stack_forgets_the_oldest_key():
    stack = NoteStack()
    for n in range(voices.STACK_SIZE + 3):
        stack.push(n, 1)
    assert stack.n == voices.STACK_SIZE
    assert list(stack.notes) == list(range(3, voices.STACK_SIZE + 3))


def held_notes(alloc):
    return [alloc.note[v] for v in range(alloc.size) if alloc.held[v]]


@settings(max_examples=400, deadline=None)
@given(st.integers(2, 4), st.sampled_from([voices.ALLOC_CYCLIC, voices.ALLOC_REUSE, voices.ALLOC_STEAL_OLDEST]),
       ops)
def test_poly_allocator_invariants(size, mode, sequence):
    alloc = PolyAllocator()
    alloc.reset(size, mode)
    started = {}  # voice -> step its current note started at
    for step, (press, note, _) in enumerate(sequence):
        before_held = [bool(alloc.held[v]) for v in range(size)]
        before_notes = [alloc.note[v] for v in range(size)]
        before_order = list(alloc.order[:size])
        before_next = alloc.next
        if press:
            already = alloc.find(note)
            v = alloc.note_on(note)
            assert 0 <= v < size
            assert alloc.note[v] == note and alloc.held[v]
            if already != NONE:
                # A note already sounding goes back to its own voice (never two voices).
                assert v == already
            else:
                free = [c for c in range(size) if not before_held[c]]
                if free:
                    # Free voices are used before any voice is stolen.
                    assert v in free
                    if mode == voices.ALLOC_CYCLIC:
                        turn = [(before_next + k) % size for k in range(size)]
                        assert v == next(c for c in turn if c in free)
                    elif mode == voices.ALLOC_REUSE and any(before_notes[c] == note for c in free):
                        assert before_notes[v] == note
                    else:
                        # The free voice released longest ago.
                        assert v == next(c for c in before_order if c in free)
                elif mode == voices.ALLOC_CYCLIC:
                    assert v == before_next % size
                else:
                    # All busy: the voice whose note started first (a re-pressed key counts
                    # as started again) is stolen.
                    assert started[v] == min(started[c] for c in range(size))
            started[v] = step
        else:
            holder = alloc.find(note)
            v = alloc.note_off(note)
            assert v == holder
            if v != NONE:
                assert not alloc.held[v]
                assert alloc.note[v] == note  # remembered for "reuse"
            assert alloc.find(note) == NONE  # a released note frees its voice
        held = held_notes(alloc)
        assert len(held) == len(set(held)), "a note sounds on two voices"
        assert sorted(alloc.order[:size]) == list(range(size))
    alloc.release_all()
    assert held_notes(alloc) == []


def test_poly_allocator_modes_by_example():
    alloc = PolyAllocator()
    alloc.reset(3, voices.ALLOC_CYCLIC)
    assert [alloc.note_on(n) for n in (60, 62, 64)] == [0, 1, 2]
    alloc.note_off(62)
    assert alloc.note_on(65) == 1  # the only free voice, although voice 0 is next in turn
    assert alloc.note_on(67) == 2  # all busy: the next in turn after voice 1
    alloc.reset(3, voices.ALLOC_REUSE)
    for n in (60, 62, 64):
        alloc.note_on(n)
    for n in (60, 62, 64):
        alloc.note_off(n)
    assert alloc.note_on(62) == 1  # the voice that last played 62
    assert alloc.note_on(70) == 0  # a new note: the voice released longest ago
    alloc.reset(3, voices.ALLOC_STEAL_OLDEST)
    for n in (60, 62, 64):
        alloc.note_on(n)
    assert alloc.note_on(66) == 0  # steals the oldest note (60)
    assert alloc.note_off(60) == NONE  # the stolen note's release is ignored
    assert alloc.note_on(68) == 1  # now 62 is the oldest
