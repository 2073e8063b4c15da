"""An output's late queue (firmware/output_queues.py) against a list of records: a value waiting
there takes a newer value with its key, a value finds a slot only beyond those kept for owed
offs, and the records enter the ring whole and in order, across the queue's wrap. The key is
looked for by ``bytearray.find`` over the records' bytes, so the records here carry every input
flag (an owed off, the box's own value) and data bytes that look like other records' bytes."""

from hypothesis import given, settings
from hypothesis import strategies as st

from host_tools import fwimport

output_queues = fwimport.firmware_module("output_queues")
merger_setup = fwimport.firmware_module("merger_setup")

LATE_SLOTS = output_queues.LATE_SLOTS
PROMISED = output_queues.PROMISED
OWN = 0x40  # firmware.merger's _OWN: a value the box sent itself
VALUE_KINDS = (0xA0, 0xB0, 0xD0, 0xE0)


def _queues():
    queues = output_queues.OutputQueues()
    merger_setup.setup_queues(queues, 2)
    queues.running_status[0] = queues.running_status[1] = 0  # every message states its status: the ring reads as records
    return queues


def _keyed(s):
    return (s & 0xF0) in (0xA0, 0xB0)  # the key holds data1: a controller, a note's pressure


def _free(records, owed):
    promised = sum(1 for r in records if r[1] & PROMISED)
    return LATE_SLOTS - len(records) - (owed - promised)


def _ring_bytes(records):
    out = []
    for s, _, d1, d2 in records:
        out += [s, d1] if s & 0xE0 == 0xC0 else [s, d1, d2]
    return out


# Few keys, so that a value often finds its key waiting, on either side of the queue's wrap.
values = st.tuples(st.just("value"), st.integers(0, 2), st.sampled_from((0, OWN)), st.sampled_from(VALUE_KINDS),
                   st.integers(0, 1), st.sampled_from((0, 1, 64, 127)), st.integers(0, 127))
offs = st.tuples(st.just("off"), st.integers(0, 4), st.integers(0, 1), st.integers(0, 127))
moves = st.tuples(st.just("move"))
events = st.one_of(values, values, values, values, values, offs, moves)  # mostly values: they coalesce


@settings(max_examples=300, deadline=None)
@given(st.lists(events, min_size=50, max_size=300), st.lists(st.integers(0, 40), min_size=2, max_size=2),
       st.lists(st.integers(0, 2 * LATE_SLOTS - 1), min_size=2, max_size=2))
def test_the_late_queue_keeps_one_record_a_key_and_its_newest_value(ops, elsewhere, start):
    # Two outputs, each with a queue of its own, take every value in one ``late_values`` call.
    # ``elsewhere``: offs an output owes that are not in its late queue (their notes sound
    # there): each keeps a slot free. ``start``: where its queue's counts stand (as after that
    # many records), so that its records wrap early.
    q = _queues()
    records = [[], []]  # the model per output: (status, input byte, data1, data2), oldest first
    for o in (0, 1):
        q.owed[o] = elsewhere[o]
        q.late_heads[o] = q.late_tails[o] = start[o]
    for op in ops:
        if op[0] == "value":
            _, i, flag, kind, channel, d1, d2 = op
            s = kind | channel
            src = i | flag
            expect = 0
            for o in (0, 1):
                same = [r for r in records[o] if r[0] == s and r[1] == src and (not _keyed(s) or r[2] == d1)]
                assert len(same) <= 1
                takes = bool(same) or _free(records[o], q.owed[o]) > 0
                if same:
                    expect |= 0x100 << o  # coalesced
                    records[o][records[o].index(same[0])] = (s, src, d1, d2)
                elif takes:
                    expect |= 1 << o  # joined
                    records[o].append((s, src, d1, d2))
            assert q.late_values(3, src, s, d1, d2, 0) == expect  # asked: what it would do
            assert q.late_values(3, src, s, d1, d2) == expect
        elif op[0] == "off":
            # A note-on made the output owe its off (a slot was free for it), and the off waits.
            _, i, channel, note = op
            for o in (0, 1):
                if len(records[o]) + elsewhere[o] < LATE_SLOTS:
                    q.owed[o] += 1
                    q.late_put(o, i, 0x80 | channel, note, 0, PROMISED)
                    records[o].append((0x80 | channel, i | PROMISED, note, 0))
        else:
            # Into the ring (room for them all), which the wire then drains.
            for o in (0, 1):
                assert q.late_to_ring(o) == sum(1 for r in records[o] if r[1] & PROMISED)
                assert q.owed[o] == elsewhere[o]
                head = q.heads[o]
                ring = q.rings[o]
                queued = (q.tails[o] - head) & output_queues.RING_WRAP
                assert [ring[(head + k) & output_queues.RING_MASK] for k in range(queued)] == _ring_bytes(records[o])
                q.heads[o] = q.tails[o]
                q.out_key[o] = -1
                records[o] = []
        for o in (0, 1):
            assert q.pending(o) == len(records[o])
