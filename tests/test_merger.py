"""The firmware's byte path (firmware/merger.py) driven directly: parsing, routing, merging."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from merge_model import value_key
from merge_rig import ListPort

from host_tools import fwimport, midiwire

merger_mod = fwimport.firmware_module("merger")
merger_setup = fwimport.firmware_module("merger_setup")
router = fwimport.firmware_module("router")
ports = fwimport.firmware_module("ports")
config = fwimport.firmware_module("config")
Merger = merger_mod.Merger


def make(routes=None, n_in=5, n_out=5):
    m = Merger(n_in, n_out)
    if routes is None:
        settings_, errors = config.load(None)
        routes = settings_["presets"][0]["routes"]
    merger_setup.set_routes(m, merger_setup.prepare_routes(m, router.build_masks(routes, n_in)))
    ports = [ListPort() for _ in range(n_out)]
    merger_setup.set_outputs(m, ports)
    return m, ports


def feed(m, i, data, usb=False):
    """Bytes read from input ``i``, as app.Box hands them over: a waiting input's go to its
    carry (a DIN input whose carry is full pushes the messages in the way of this read on, rule 4)."""
    data = bytes(data)
    for k in range(0, len(data), ports.READ_SIZE):
        read = data[k:k + ports.READ_SIZE]
        if m.stalled >> i & 1:
            m.resume(i, 0 if usb else len(read))
        if m.stalled >> i & 1:
            assert m.carry_room(i) >= len(read), "a USB input is read only when its carry has room"
            m.keep(i, read, 0, len(read))
        else:
            m.feed(i, read, 0, len(read))


def drain_all(m, ports):
    """Drain every output and resume waiting inputs until nothing moves."""
    for _ in range(10000):
        before = [m.pending(o) for o in range(len(ports))] + [m.carry_room(i) for i in range(len(m.state))]
        for o in range(len(ports)):
            if m.pending(o):
                m.drain(o, 0)
        for i in range(len(m.state)):
            if m.stalled >> i & 1:
                m.resume(i)
        after = [m.pending(o) for o in range(len(ports))] + [m.carry_room(i) for i in range(len(m.state))]
        if after == before:
            return


def run(m, ports, feeds):
    """feeds: [(input, bytes)] in order; drain after each feed."""
    for i, data in feeds:
        feed(m, i, data)
        drain_all(m, ports)
    return [bytes(p.data) for p in ports]


def sounding(m, i):
    """Notes input ``i`` has sounding on some output, as the merger's tracking holds them."""
    return sum(1 for table in m.track.notes[i] if table is not m.track.unused for outputs in table if outputs)


def hanging_notes(data):
    """(channel, note) pairs a stream leaves sounding."""
    sounding = set()
    for x in msgs(data):
        key = (x[0] & 0x0F, x[1])
        if x[0] & 0xF0 == 0x90 and x[2]:
            sounding.add(key)
        elif x[0] & 0xF0 in (0x80, 0x90):
            sounding.discard(key)
    return sounding


def msgs(data):
    out, problems = midiwire.decode([(0, b) for b in data], strict=True)
    return [m.data for m in out]


def test_the_byte_paths_queue_geometry_is_the_queues_own():
    # merger.py keeps its own consts of these (MicroPython folds a const() only in its module).
    q = fwimport.firmware_module("output_queues")
    for name in ("RING_SIZE", "RING_MASK", "RING_WRAP", "LANE_SIZE", "LANE_MASK", "LANE_WRAP", "PRESSURE",
                 "OFF_BYTES", "MAX_OWED"):
        assert getattr(merger_mod, "_" + name) == getattr(q, name), name
    assert merger_mod._NONE == merger_mod.NONE
    assert merger_mod._NO_TABLE == fwimport.firmware_module("tracking").NO_TABLE
    assert merger_mod._USB_OUTPUT == fwimport.firmware_module("router").USB_OUTPUT
    parts = fwimport.firmware_module("shared_pairs")
    assert (parts._MAX_OWED, parts._MAX_COPIES, parts._NONE, parts._OWN) == (
        q.MAX_OWED, q.MAX_COPIES, merger_mod.NONE, merger_mod._OWN)


def test_the_queues_keep_room_for_every_copy_of_a_message_and_its_offs():
    """Routes sharing a pair make one message up to MAX_COPIES messages on an output, each
    note-on copy owing its off, so an output owes at most MAX_OWED - 1 + MAX_COPIES offs
    (firmware/shared_pairs.py refuses a note-on beyond it). An output not pressed must take the
    copies with every off's room kept, and the late queue must hold every owed off."""
    q = fwimport.firmware_module("output_queues")
    most_owed = q.MAX_OWED - 1 + q.MAX_COPIES
    assert q.MAX_COPIES * 3 + q.OFF_BYTES * most_owed <= q.PRESSURE
    assert most_owed <= q.LATE_SLOTS
    # _admit looks at a shared pair's copies only when the room is within what they may take.
    assert merger_mod._MORE_COPIES == (q.MAX_COPIES - 1) * (3 + q.OFF_BYTES)


# MicroPython's hash table sizes (py/map.c, hash_allocation_sizes): an object's attribute table
# starts empty and grows only when it is full, to the next of these.
TABLE_SIZES = (0, 2, 4, 6, 8, 10, 12, 17, 23, 29, 37, 47, 59, 73, 97, 127, 167, 223)


def test_the_mergers_attribute_table_keeps_room_for_method_lookups():
    """A method call on the merger first misses its attribute table (methods live in the class),
    and a miss probes until a free slot: with its table nearly full (45 attributes in 47 slots)
    every method call on the board cost 1,000-2,000 cycles more (docs/design.md, "CircuitPython
    costs"). Adding or removing an attribute can cross a size: keep this load."""
    m = Merger(5, 6, 4)
    n = len(m.__dict__)
    size = min(s for s in TABLE_SIZES if s >= n)
    assert n <= 0.85 * size, "%d attributes in a table of %d" % (n, size)


def test_bits_lists_the_outputs_of_every_mask():
    bits = merger_mod.BITS
    # Six outputs' masks, or seven once a box with usbh has been built in this process.
    base = fwimport.firmware_module("clock_master").BASE_OUTPUTS
    assert len(bits) in (1 << base, 1 << merger_mod.MAX_OUTPUTS)
    for mask in range(len(bits)):
        assert list(bits[mask]) == [o for o in range(merger_mod.MAX_OUTPUTS) if mask >> o & 1]


def test_running_status_notes_all_arrive():
    m, ports = make()
    out = run(m, ports, [(0, [0x90, 0x3C, 0x64, 0x3E, 0x64, 0x40, 0x64])])
    assert msgs(out[0]) == [bytes([0x90, 0x3C, 0x64]), bytes([0x90, 0x3E, 0x64]), bytes([0x90, 0x40, 0x64])]
    # Running status kept on the output: the status byte is sent once.
    assert out[0] == bytes([0x90, 0x3C, 0x64, 0x3E, 0x64, 0x40, 0x64])


def test_clock_inside_a_note_passes_first_and_note_survives():
    m, ports = make()
    out = run(m, ports, [(0, [0x90, 0x3C, 0xF8, 0x64])])
    assert out[1] == bytes([0xF8, 0x90, 0x3C, 0x64])


def test_realtime_inside_sysex_leaves_it_whole():
    m, ports = make()
    out = run(m, ports, [(1, [0xF0, 0x41, 0x10, 0xF8, 0x42, 0xF7])])
    # The clock takes the priority lane (it may overtake queued SysEx bytes); the SysEx is whole.
    assert msgs(out[0]) == [bytes([0xF8]), bytes([0xF0, 0x41, 0x10, 0x42, 0xF7])]


def test_interrupted_sysex_closed_with_f7_and_rest_dropped():
    m, ports = make()
    out = run(m, ports, [(0, [0xF0, 0x7D, 0x01, 0x90, 0x3C, 0x64, 0x02, 0x03])])
    assert out[0][:4] == bytes([0xF0, 0x7D, 0x01, 0xF7])
    assert msgs(out[0])[1] == bytes([0x90, 0x3C, 0x64])
    # 02 03 after the note: running status 90 makes them a second note, as the spec reads it.
    assert msgs(out[0])[2] == bytes([0x90, 0x02, 0x03])


def test_sysex_holds_output_other_inputs_wait_whole():
    m, ports = make()
    out = run(m, ports, [
        (0, [0xF0, 0x7D, 0x01]),
        (1, [0x91, 0x3C, 0x64]),  # arrives mid-SysEx: held
        (0, [0x02, 0xF7]),
    ])
    assert out[2] == bytes([0xF0, 0x7D, 0x01, 0x02, 0xF7, 0x91, 0x3C, 0x64])


def test_direct_sends_restate_system_common_and_running_status():
    # Outputs with nothing queued get each message straight from _emit (as in app.Box): two
    # system common messages in a row are both sent whole, and the status after them is stated.
    m, ports = make()
    merger_setup.set_outputs(m, ports)
    merger_setup.set_output_modes(m, 0x1F, 0x1F)
    feed(m, 0, [0xF6, 0xF6, 0xF1, 0x21, 0xF1, 0x22, 0x90, 60, 100, 62, 100])
    assert m.queued == 0  # everything went direct
    assert ports[0].data == bytes([0xF6, 0xF6, 0xF1, 0x21, 0xF1, 0x22, 0x90, 60, 100, 62, 100])


def test_second_sysex_waits_whole_and_keeps_its_inputs_order():
    m, ports = make()
    out = run(m, ports, [
        (0, [0xF0, 0x7D, 0x01]),
        (1, [0x91, 0x3C, 0x64]),  # in2's note before its SysEx: held
        (1, [0xF0, 0x7E, 0x05]),  # in2's SysEx starts while in1's holds the output: waits
        (2, [0x92, 0x40, 0x40]),  # in3's note waits too
        (1, [0x06]),
        (0, [0x02, 0xF7]),  # in1's ends: in2 goes on (its note, its SysEx, which now holds it)
        (1, [0x07, 0xF7, 0x81, 0x3C, 0x00]),  # in2's ends; in3's note was waiting for it
    ])
    assert out[2] == bytes([0xF0, 0x7D, 0x01, 0x02, 0xF7, 0x91, 0x3C, 0x64,
                            0xF0, 0x7E, 0x05, 0x06, 0x07, 0xF7, 0x81, 0x3C, 0x00, 0x92, 0x40, 0x40])
    assert sum(m.dropped) == 0


def test_waiting_sysex_that_ended_goes_out_whole_when_its_turn_comes():
    m, ports = make()
    out = run(m, ports, [
        (0, [0xF0, 0x01]),
        (1, [0xF0, 0x02, 0x03, 0xF7]),  # complete while in1's SysEx is open
        (1, [0x91, 0x3C, 0x64]),  # in2's note after its SysEx: stays after it
        (0, [0xF7]),
    ])
    assert out[0] == bytes([0xF0, 0x01, 0xF7, 0xF0, 0x02, 0x03, 0xF7, 0x91, 0x3C, 0x64])


def test_waiting_sysex_longer_than_its_carry_is_dropped_whole_and_counted():
    m, ports = make()
    long = [0xF0] + [k & 0x7F for k in range(merger_mod.CARRY_SIZE + 10)] + [0xF7]
    out = run(m, ports, [(0, [0xF0, 0x01]), (1, long), (1, [0x91, 0x3C, 0x64]), (0, [0xF7])])
    # in1's SysEx, then in2's note: nothing of in2's SysEx, which outgrew its DIN input's carry
    # while it waited at its F0 (dropped whole there, never cut).
    assert out[0] == bytes([0xF0, 0x01, 0xF7, 0x91, 0x3C, 0x64])
    assert m.dropped[0 * merger_mod.N_DROP_REASONS + merger_mod.DROP_SYSEX_BUSY] == 1
    # The same SysEx finding the output free streams whole, however long.
    out2 = run(*make(), [(1, long)])
    assert out2[0] == bytes(long)


def test_waiting_sysex_closed_with_f7_when_its_input_is_lost():
    m, ports = make()
    m.now = 0
    run(m, ports, [(0, [0xF0, 0x01]), (1, [0xFE, 0xF0, 0x02, 0x03])])
    # in2 silent 300 ms after active sensing, but its SysEx still waits for in1's: not lost
    # while its own bytes wait; once they went on, the silence ends it with F7.
    m.service(301)
    run(m, ports, [(0, [0xF7])])
    m.service(302)
    drain_all(m, ports)
    assert bytes(ports[0].data) == bytes([0xF0, 0x01, 0xF7, 0xF0, 0x02, 0x03, 0xF7])


def test_stalled_sysex_times_out_and_releases():
    m, ports = make()
    m.now = 0
    m.last_rx[0] = 0
    run(m, ports, [(0, [0xF0, 0x7D, 0x01])])
    run(m, ports, [(1, [0x91, 0x3C, 0x64])])
    m.service(400)
    drain_all(m, ports)
    assert ports[2].data == bytes([0xF0, 0x7D, 0x01])
    m.service(501)
    drain_all(m, ports)
    assert ports[2].data == bytes([0xF0, 0x7D, 0x01, 0xF7, 0x91, 0x3C, 0x64])
    assert m.sysex_timeouts == 1


def test_stray_and_undefined_bytes_counted_and_dropped():
    m, ports = make()
    out = run(m, ports, [(0, [0x3C, 0x64, 0xF4, 0xF5, 0xF7, 0x90, 0x3C, 0x64])])
    assert out[0] == bytes([0x90, 0x3C, 0x64])
    assert m.stray[0] == 5


def test_realtime_undefined_f9_fd_not_forwarded():
    m, ports = make()
    out = run(m, ports, [(0, [0xF9, 0xFD, 0xF8])])
    assert out[0] == bytes([0xF8])


def test_running_status_restated_when_source_changes():
    m, ports = make()
    out = run(m, ports, [(0, [0x90, 0x3C, 0x64]), (1, [0x90, 0x3E, 0x64]), (0, [0x90, 0x40, 0x64])])
    assert out[2] == bytes([0x90, 0x3C, 0x64, 0x90, 0x3E, 0x64, 0x90, 0x40, 0x64])


def test_system_common_cancels_running_status_on_output():
    m, ports = make()
    out = run(m, ports, [(0, [0x90, 0x3C, 0x64, 0xF6, 0x90, 0x3E, 0x64])])
    assert out[0] == bytes([0x90, 0x3C, 0x64, 0xF6, 0x90, 0x3E, 0x64])


def test_clock_master_auto_first_clock_then_last_start():
    m, ports = make()
    out = run(m, ports, [(0, [0xF8]), (1, [0xF8]), (1, [0xFA, 0xF8]), (0, [0xF8])])
    # in1 clocked first (master); in2's clock dropped; in2's Start takes the role; in1 is dropped.
    assert out[2] == bytes([0xF8, 0xFA, 0xF8])


def test_master_gives_role_up_after_a_second_of_silence():
    m, ports = make()
    m.now = 0
    run(m, ports, [(0, [0xF8])])
    m.service(1001)
    run(m, ports, [(1, [0xF8])])
    assert ports[0].data == bytes([0xF8, 0xF8])
    assert m.clock_master.master == 1


def test_master_keeps_the_role_while_its_clock_keeps_coming():
    # Only its silence ends the role: a master sending nothing but F8 for two seconds keeps it,
    # and another input's clock, between every two of its ticks, stays out.
    m, ports = make()
    for t in range(0, 2000, 20):
        m.now = t
        run(m, ports, [(0, [0xF8])])
        m.service(t + 10)
        run(m, ports, [(1, [0xF8])])
    assert m.clock_master.master == 0
    assert ports[0].data == bytes([0xF8]) * 100


def test_song_position_only_from_master():
    m, ports = make()
    out = run(m, ports, [(0, [0xFA]), (1, [0xF2, 0x10, 0x00]), (0, [0xF2, 0x20, 0x00])])
    assert out[2] == bytes([0xFA, 0xF2, 0x20, 0x00])


class ClockLog:
    def __init__(self):
        self.events = []

    def on_master(self, b, now):
        self.events.append(b)

    def song_position(self, beats):
        self.events.append(("spp", beats))


def test_named_input_master_ignores_every_other_clock_and_transport():
    m, ports = make()
    m.set_master(1)
    log = m.clock_master.sink = ClockLog()
    out = run(m, ports, [(0, [0xFA, 0xF8]), (1, [0xF8]), (0, [0xF2, 0x01, 0x00]), (1, [0xFA, 0xF2, 0x02, 0x00]), (0, [0xFC])])
    assert out[2] == bytes([0xF8, 0xFA, 0xF2, 0x02, 0x00])
    # The master's transport reaches the clock; its tick is counted for it (a stopped clock
    # takes no call per tick: ClockMaster.tick_sink).
    assert log.events == [0xFA, ("spp", 2)]
    assert m.clock_master.ticks == 1


def test_internal_master_drops_external_clock_and_injects_its_own():
    m, ports = make()
    m.set_master(merger_mod.MASTER_INTERNAL)
    log = m.clock_master.sink = ClockLog()
    run(m, ports, [(0, [0xFA, 0xF8, 0x90, 0x3C, 0x64]), (1, [0xF8, 0xF2, 0x00, 0x00])])
    m.inject_realtime(0xFA)
    m.inject_realtime(0xF8)
    drain_all(m, ports)
    # External clock, transport and song position gone; notes still merged; the box's own
    # Start and tick reach every output (USB included).
    assert ports[0].data == bytes([0x90, 0x3C, 0x64, 0xFA, 0xF8])
    assert ports[4].data == bytes([0x90, 0x3C, 0x64, 0xFA, 0xF8])
    assert log.events == []
    assert m.clock_master.ticks == 0


def test_switching_presets_with_the_same_auto_master_keeps_it():
    m, ports = make()
    run(m, ports, [(0, [0xF8])])
    m.set_master(merger_mod.MASTER_AUTO)
    run(m, ports, [(1, [0xF8]), (0, [0xF8])])
    assert ports[2].data == bytes([0xF8, 0xF8])


def test_clock_divide_and_send_per_output():
    m, ports = make()
    send = 0b11101  # not to out2
    m.set_clock_outputs(send, [2, 1, 3, 1, 1])
    run(m, ports, [(0, [0xFA] + [0xF8] * 7 + [0x90, 0x3C, 0x64])])
    assert ports[0].data == bytes([0xFA, 0xF8, 0xF8, 0xF8, 0xF8, 0x90, 0x3C, 0x64])  # ticks 1,3,5,7
    assert ports[1].data == bytes([0x90, 0x3C, 0x64])  # no clock or transport, notes still
    assert ports[2].data == bytes([0xFA, 0xF8, 0xF8, 0xF8, 0x90, 0x3C, 0x64])  # ticks 1,4,7
    assert ports[3].data.count(0xF8) == 7
    # Start realigns the divider: the first tick after it passes.
    ports[0].data.clear()
    run(m, ports, [(0, [0xF8, 0xFA, 0xF8])])
    assert ports[0].data == bytes([0xFA, 0xF8])


def test_active_sensing_not_forwarded_and_loss_closes_sysex():
    m, ports = make()
    m.now = 0
    run(m, ports, [(0, [0xFE, 0xF0, 0x7D])])
    assert ports[1].data == bytes([0xF0, 0x7D])
    m.service(301)
    drain_all(m, ports)
    assert ports[1].data == bytes([0xF0, 0x7D, 0xF7])
    assert m.sensing[0] == 0


def test_usb_never_echoed_to_usb_by_default():
    m, ports = make()
    out = run(m, ports, [(4, [0x90, 0x3C, 0x64])])
    assert out[4] == b""
    assert out[0] == bytes([0x90, 0x3C, 0x64])


def test_queue_full_counts_drops_and_never_splits_a_message():
    m, ports = make()
    for k in range(400):
        feed(m, 0, [0x90, k & 0x7F, 1 + k % 100])
    drain_all(m, ports)
    got = msgs(ports[0].data)
    assert all(len(x) == 3 for x in got)
    dropped = sum(m.dropped[0:merger_mod.N_DROP_REASONS])
    assert m.dropped[merger_mod.DROP_TOO_MANY_NOTES] > 0  # more note-ons than an output may owe offs
    assert dropped > 0 and len(got) + dropped == 400
    assert m.coalesced[0] == 0  # notes are never coalesced


def test_overload_coalesces_controllers_and_bend_instead_of_dropping():
    m, ports = make()
    sent = []
    for k in range(508):
        v = k // 4  # unique within each of the four streams
        msg = [(0xB0, 1, v), (0xB0, 74, v), (0xE1, v, 127 - v), (0xD2, v)][k % 4]
        sent.append(bytes(msg))
        feed(m, 0, msg)
    drain_all(m, ports)
    got = msgs(ports[0].data)
    dropped = sum(m.dropped[: merger_mod.N_DROP_REASONS])
    assert dropped == 0 and m.coalesced[0] > 0
    assert len(got) + m.coalesced[0] == 508
    # The newest value of every controller, bend and pressure stream is the last one delivered.
    def key(x):
        return x[:2] if x[0] == 0xB0 else x[:1]

    assert {key(x): x for x in got} == {key(bytes(x)): bytes(x) for x in sent}
    # Each stream's values still arrive in the order they were sent (some skipped).
    for stream in ((0xB0, 1), (0xB0, 74)):
        values = [x[2] for x in got if tuple(x[:2]) == stream]
        order = [x[2] for x in sent if tuple(x[:2]) == stream]
        positions = [order.index(v) for v in values]
        assert positions == sorted(positions)


# -- properties -------------------------------------------------------------------------------

channel_msg = st.one_of(
    st.tuples(st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xE0]), st.integers(0, 15), st.integers(0, 127),
              st.integers(0, 127)).map(lambda t: bytes([t[0] | t[1], t[2], t[3]])),
    st.tuples(st.sampled_from([0xC0, 0xD0]), st.integers(0, 15), st.integers(0, 127)).map(
        lambda t: bytes([t[0] | t[1], t[2]])),
    st.lists(st.integers(0, 127), max_size=40).map(lambda d: bytes([0xF0] + d + [0xF7])),
    st.sampled_from([bytes([0xF6]), bytes([0xF1, 0x21])]),  # song position/select: own test (master rule)
)


def encode_with_running_status_and_realtime(messages, rts, draw_positions):
    """Wire bytes of ``messages`` with running status where allowed and real-time bytes
    inserted at the given positions (anywhere, including inside messages and SysEx)."""
    out = bytearray()
    running = 0
    for m in messages:
        s = m[0]
        if s < 0xF0 and s == running:
            out.extend(m[1:])
        else:
            out.extend(m)
        running = s if s < 0xF0 else 0
    for pos, rt in sorted(zip(draw_positions, rts), reverse=True):
        out.insert(min(pos, len(out)), rt)
    return bytes(out)


@st.composite
def input_streams(draw):
    streams = []
    for _ in range(draw(st.integers(1, 3))):
        # Any input may send SysEx: one that starts while another holds an output waits whole.
        messages = draw(st.lists(channel_msg, max_size=25))
        rts = draw(st.lists(st.sampled_from([0xF8, 0xFA, 0xFC, 0xFB]), max_size=6))
        positions = draw(st.lists(st.integers(0, 400), min_size=len(rts), max_size=len(rts)))
        streams.append((messages, encode_with_running_status_and_realtime(messages, rts, positions)))
    chunks = draw(st.lists(st.integers(1, 7), min_size=1, max_size=20))
    return streams, chunks, draw(st.booleans())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(input_streams())
def test_merged_outputs_are_valid_and_keep_each_inputs_order(data):
    streams, chunks, direct = data
    m, ports = make()
    if direct:  # as in app.Box: idle outputs get each message straight away
        merger_setup.set_outputs(m, ports)
        merger_setup.set_output_modes(m, 0x1F, 0x1F)
    # Interleave the inputs in chunks of varying size, as reads of a pass would.
    pos = [0] * len(streams)
    k = 0
    while any(pos[i] < len(s) for i, (_, s) in enumerate(streams)):
        for i, (_, s) in enumerate(streams):
            n = chunks[k % len(chunks)]
            k += 1
            if pos[i] < len(s):
                feed(m, i, s[pos[i]:pos[i] + n])
                pos[i] += n
                drain_all(m, ports)
    drain_all(m, ports)
    for o in range(4):
        out, problems = midiwire.decode([(0, b) for b in ports[o].data])
        assert problems == [], problems  # a valid stream: nothing cut, nothing interleaved
        non_rt = [x.data for x in out if x.data[0] < 0xF8]
        # Each input's messages appear in order, unchanged (a subsequence of the output); a
        # controller / pressure / bend value may have been replaced by its input's newer value
        # while it waited for another input's SysEx (coalesced, counted).
        for i, (messages, _) in enumerate(streams):
            it = iter(non_rt)
            for msg in messages:
                if value_key(msg) is None:
                    assert any(x == msg for x in it), (i, msg.hex())
        # Under capacity nothing is dropped; what is missing is exactly what was coalesced.
        assert sum(m.dropped[o * merger_mod.N_DROP_REASONS:(o + 1) * merger_mod.N_DROP_REASONS]) == 0
        assert sum(len(msgs_) for msgs_, _ in streams) - len(non_rt) == m.coalesced[o]


def test_lost_input_gets_note_offs_for_its_sounding_notes_only():
    m, ports = make()
    m.now = 0
    run(m, ports, [(0, [0xFE, 0x90, 60, 100, 62, 100, 64, 100, 62, 0]),  # 62 released (vel 0)
                   (1, [0x91, 40, 100])])
    m.service(301)
    drain_all(m, ports)
    got = msgs(ports[2].data)
    offs = sorted(x for x in got if x[0] == 0x80)
    assert offs == [bytes([0x80, 60, 0]), bytes([0x80, 64, 0])]  # never 62, never in2's note
    assert sounding(m, 0) == 0 and sounding(m, 1) == 1


def test_note_offs_follow_where_each_note_on_went():
    routes = [{"from": [0], "to": [0], "kinds": 0x3FFF, "channels": 0xFFFF},
              {"from": [0], "to": [1], "kinds": 0x3FFF, "channels": 0x0002}]  # out2: channel 2 only
    m, ports = make(routes)
    m.now = 0
    run(m, ports, [(0, [0xFE, 0x90, 60, 100, 0x91, 61, 100])])
    m.service(400)
    drain_all(m, ports)
    assert [x for x in msgs(ports[0].data) if x[0] == 0x80 or x[0] == 0x81] == [bytes([0x80, 60, 0]), bytes([0x81, 61, 0])]
    assert [x for x in msgs(ports[1].data) if x[0] & 0xF0 == 0x80] == [bytes([0x81, 61, 0])]


def test_more_notes_than_an_output_may_owe_are_not_sent_and_the_rest_all_released():
    m, ports = make()
    m.now = 0
    data = [0xFE, 0x90]
    for note in range(100):
        data += [note, 100]
    run(m, ports, [(0, data)])
    m.service(301)
    drain_all(m, ports)
    got = msgs(ports[4].data)
    ons = {x[1] for x in got if x[0] == 0x90}
    offs = {x[1] for x in got if x[0] == 0x80}
    assert ons == set(range(merger_mod.MAX_OWED)) and offs == ons
    assert m.dropped[4 * merger_mod.N_DROP_REASONS + merger_mod.DROP_TOO_MANY_NOTES] == 100 - merger_mod.MAX_OWED


def test_notes_sound_on_at_most_note_tables_channels_and_a_silent_channel_gives_its_table_back():
    tracking = fwimport.firmware_module("tracking")
    m, ports = make()
    m.now = 0
    too_many = merger_mod.DROP_TOO_MANY_NOTES  # out1's counter; out2's is N_DROP_REASONS further
    # Inputs 1 and 2 hold a note on each of their 16 channels: every table is taken.
    assert tracking.NOTE_TABLES == 32
    run(m, ports, [(i, [0x90 | ch, 60, 100]) for i in (0, 1) for ch in range(16)])
    assert m.track.n_spare == 0
    # A note on a further channel is not sent anywhere, and counted; its off is not owed.
    run(m, ports, [(2, [0x95, 70, 100])])
    assert m.dropped[too_many] == 1 and m.dropped[merger_mod.N_DROP_REASONS + too_many] == 1
    assert not any(x == bytes([0x95, 70, 100]) for p in ports for x in msgs(p.data))
    # One of those channels falls silent; within the same ms tick the box does not look again.
    run(m, ports, [(1, [0x8F, 60, 0]), (2, [0x95, 71, 100])])
    assert m.dropped[too_many] == 2
    # A tick later that channel's table is taken back and the note sounds.
    m.now = 1
    run(m, ports, [(2, [0x95, 72, 100])])
    assert m.dropped[too_many] == 2 and sounding(m, 2) == 1
    assert all(msgs(p.data)[-1] == bytes([0x95, 72, 100]) for p in ports)
    assert m.track.notes[1][15] is m.track.unused
    # Every note that went out gets its off: nothing hangs.
    for i in range(3):
        m.release_notes(i)
    drain_all(m, ports)
    for p in ports:
        assert hanging_notes(p.data) == set()
    assert m.owed == bytearray(5)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 15), st.integers(0, 127), st.integers(0, 127)),
                max_size=60))
def test_no_note_hangs_after_input_loss(events):
    m, ports = make()
    m.now = 0
    feed(m, 0, [0xFE])
    for on, ch, note, vel in events:
        feed(m, 0, [(0x90 if on else 0x80) | ch, note, vel])
        drain_all(m, ports)
    m.service(301)
    drain_all(m, ports)
    for port in ports[:4]:
        assert hanging_notes(port.data) == set()


def test_route_change_sends_note_offs_only_where_they_would_be_stranded():
    both = [{"from": [0], "to": [0, 1], "kinds": 0x3FFF, "channels": 0xFFFF}]
    only_out1 = [{"from": [0], "to": [0], "kinds": 0x3FFF, "channels": 0xFFFF}]
    m, ports = make(both)
    run(m, ports, [(0, [0x90, 60, 100])])
    merger_setup.set_routes(m, merger_setup.prepare_routes(m, router.build_masks(only_out1, 5)))
    drain_all(m, ports)
    assert msgs(ports[1].data) == [bytes([0x90, 60, 100]), bytes([0x80, 60, 0])]  # closed now
    assert msgs(ports[0].data) == [bytes([0x90, 60, 100])]  # still sounding, still tracked
    run(m, ports, [(0, [0x80, 60, 64])])
    assert msgs(ports[0].data)[-1] == bytes([0x80, 60, 64])
    assert msgs(ports[1].data)[-1] == bytes([0x80, 60, 0])  # nothing more on out2
    assert sounding(m, 0) == 0


def test_a_route_change_sends_its_offs_in_parts_while_the_input_plays_on():
    """A preset switch installs an input's routes in one ms tick and sends the offs they owe in
    parts of their own (``strand_part``: scanning a channel's 128 notes and sending an off to
    three outputs took the board 2.4 ms in one pass). Meanwhile the input plays under its new
    routes: its note-off reaches the outputs still routed, the dropped outputs still get theirs
    from the parts, once, and a new note goes only where the new routes go."""
    every = [{"from": [0], "to": [0, 1, 2, 3], "kinds": 0x3FFF, "channels": 0xFFFF}]
    only_out1 = [{"from": [0], "to": [0], "kinds": 0x3FFF, "channels": 0xFFFF}]
    m, ports = make(every)
    run(m, ports, [(0, [0x90, 60, 100, 0x90, 100, 100, 0x91, 7, 100])])
    m.set_input_routes(0, merger_setup.prepare_routes(m, router.build_masks(only_out1, 5)), None)
    drain_all(m, ports)
    assert all(hanging_notes(p.data) for p in ports[1:4])  # the offs come in parts
    run(m, ports, [(0, [0x80, 60, 0, 0x90, 64, 90])])
    # Three notes to three outputs, two channels to scan: one off a part at most, and a part
    # scans _STRAND_PART notes at most (a part stops short of an off it meets late).
    parts = 0
    sent = sum(len(p.data) for p in ports)
    while m.strand_part():
        parts += 1
        drain_all(m, ports)
        now = sum(len(p.data) for p in ports)
        assert now - sent in (0, 2, 3)  # nothing, or one note-off (its status, or not)
        sent = now
    assert parts <= 9 + 3 + 2 * 128 // merger_mod._STRAND_PART + 2
    assert msgs(ports[0].data)[-2:] == [bytes([0x80, 60, 0]), bytes([0x90, 64, 90])]
    for port in ports[1:4]:
        got = msgs(port.data)
        assert bytes([0x90, 64, 90]) not in got
        assert sorted(x for x in got if x[0] & 0xF0 == 0x80) == [
            bytes([0x80, 60, 0]), bytes([0x80, 100, 0]), bytes([0x81, 7, 0])]
        assert hanging_notes(port.data) == set()
    assert hanging_notes(ports[0].data) == {(0, 100), (0, 64), (1, 7)}  # still sounding there
    assert m.owed[0] == 3 and not any(m.owed[1:])


def test_a_route_change_finishes_the_offs_an_earlier_one_left():
    # A second switch before the first's parts are done: the first's offs all go out first.
    every = [{"from": [0], "to": [0, 1], "kinds": 0x3FFF, "channels": 0xFFFF}]
    only_out1 = [{"from": [0], "to": [0], "kinds": 0x3FFF, "channels": 0xFFFF}]
    m, ports = make(every)
    run(m, ports, [(0, [0x90, 60, 100, 0x9F, 100, 100])])
    m.set_input_routes(0, merger_setup.prepare_routes(m, router.build_masks(only_out1, 5)), None)
    m.set_input_routes(0, merger_setup.prepare_routes(m, router.build_masks(every, 5)), None)
    drain_all(m, ports)
    assert hanging_notes(ports[1].data) == set() and m.owed[1] == 0
    before = [bytes(p.data) for p in ports]
    while m.strand_part():  # the second change's parts: the notes sound where routed, no off
        drain_all(m, ports)
    assert [bytes(p.data) for p in ports] == before


# -- transforms ---------------------------------------------------------------------------


def routes_with(transform, frm=(0,), to=(0,)):
    route = {"from": list(frm), "to": list(to), "kinds": 0x3FFF, "channels": 0xFFFF}
    route.update(transform)
    return [route]


def switch(m, routes):
    merger_setup.set_routes(m, merger_setup.prepare_routes(m, router.build_masks(routes, 5)), router.build_transforms(routes, 5, 5))


def test_keys_on_one_channel_bend_and_mod_wheel_on_another():
    # The Digitakt seed: the keyboard's keys play channel 1, its bend and mod wheel channel 2.
    m, ports = make()
    switch(m, routes_with({"remap": {0x80: 0, 0x90: 0, 0xE0: 1, 0xB0: 1}}, frm=[0], to=[0, 1]))
    out = run(m, ports, [(0, [0x93, 60, 100, 0xE3, 0, 0x50, 0xB3, 1, 64, 0x83, 60, 0])])
    want = [bytes([0x90, 60, 100]), bytes([0xE1, 0, 0x50]), bytes([0xB1, 1, 64]), bytes([0x80, 60, 0])]
    assert msgs(out[0]) == want and msgs(out[1]) == want


def test_transpose_and_velocity_scale_per_route():
    m, ports = make()
    routes = routes_with({"transpose": 12, "velocity": (80, 10)}, to=[0]) + [
        {"from": [0], "to": [1], "kinds": 0x3FFF, "channels": 0xFFFF}]
    switch(m, routes)
    out = run(m, ports, [(0, [0x90, 60, 100, 60, 0, 0xA0, 61, 30, 0x90, 120, 1, 0x80, 120, 0, 0x90, 1, 127])])
    # Note 120 + 12 is out of range: neither its note-on nor its note-off is sent.
    assert msgs(out[0]) == [bytes([0x90, 72, 90]), bytes([0x90, 72, 0]), bytes([0xA0, 73, 30]),
                            bytes([0x90, 13, 112])]
    assert msgs(out[1])[0] == bytes([0x90, 60, 100])  # the plain route is untouched
    assert router.build_transforms(routes_with({"velocity": (0, 1)}))[0][2][127] == 1  # never 0


def test_changing_a_transform_ends_notes_through_the_old_one():
    m, ports = make()
    switch(m, routes_with({"transpose": 5}))
    run(m, ports, [(0, [0x90, 60, 100])])
    switch(m, routes_with({"transpose": -5}))
    drain_all(m, ports)
    assert msgs(ports[0].data) == [bytes([0x90, 65, 100]), bytes([0x80, 65, 0])]
    assert hanging_notes(ports[0].data) == set()


transform_st = st.fixed_dictionaries({}, optional={
    "remap": st.dictionaries(st.sampled_from([0x80, 0x90, 0xA0, 0xB0, 0xE0]), st.integers(0, 15), max_size=3),
    "transpose": st.integers(-48, 48),
    "velocity": st.tuples(st.integers(0, 400), st.integers(-127, 127)),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.tuples(st.just("note"), st.integers(0, 1), st.integers(0, 3), st.integers(0, 127), st.integers(0, 127)),
    st.tuples(st.just("switch"), st.integers(0, 31), transform_st),
), max_size=40))
def test_no_note_hangs_across_route_and_transform_changes(actions):
    # Route changes with no transform ({} drawn) and with one, in any order.
    m, ports = make()
    for a in actions:
        if a[0] == "note":
            _, on, ch, note, vel = a
            feed(m, 0, [(0x90 if on else 0x80) | ch, note, vel])
        else:
            outs = [o for o in range(5) if a[1] & (1 << o)]
            switch(m, routes_with(a[2], to=outs) if outs else [])
        drain_all(m, ports)
    m.release_notes(0)
    drain_all(m, ports)
    for port in ports:
        assert hanging_notes(port.data) == set()
        msgs(port.data)  # and every output is a valid stream


def test_note_offs_survive_a_flood_that_fills_the_queue():
    m, ports = make()
    feed(m, 0, [0x90, 60, 100, 62, 100])
    for k in range(1000):  # nothing drains: the ring and the input's carry fill with program changes
        feed(m, 0, [0xC0, k & 0x7F])
    feed(m, 0, [0x90, 60, 0, 0x80, 62, 64])
    drain_all(m, ports)
    got = msgs(ports[0].data)
    assert got[-2:] == [bytes([0x90, 60, 0]), bytes([0x80, 62, 64])]
    assert m.dropped[merger_mod.DROP_QUEUE_FULL] > 0  # program changes were dropped, not the note-offs
    assert got.count(bytes([0x90, 60, 100])) == 1
