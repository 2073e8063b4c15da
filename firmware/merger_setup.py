"""The merger's state and its rooms (output queues, note tracking), set up once at start-up.
A start-up module (``app.START_UP_MODULES``): dropped once the box runs, its code leaves the
heap (docs/design.md, "Heap")."""

from micropython import const

from firmware.clock_master import MAX_OUTPUTS, NONE, ClockMaster
from firmware.merger import CARRY_SIZE, N_DROP_REASONS
from firmware.output_queues import LANE_SIZE, LATE_SLOTS, RING_SIZE, OutputQueues
from firmware.ports import Wires
from firmware.tracking import FREE, NO_TABLE, NOTE_TABLES, Tracking

# The USB input's carry: a pass reads one message of it (start._USB_READ_SIZE, 3 bytes), and
# while it waits it is not read at all (app reads a waiting input only into a whole READ_SIZE
# of room), so its carry never holds more than one read. 16 bytes: one heap block.
_USB_CARRY = const(16)


def setup_merger(merger, n_in, n_out, usb):
    # ``firmware.merger.Merger``'s fields. ``usb``: the input that waits by not being read
    # (app.WaitingPass); its carry need only hold one read.
    if n_out > MAX_OUTPUTS:
        raise ValueError("at most %d outputs" % MAX_OUTPUTS)
    merger.n_out = n_out
    # Parser state per input, packed in one small int: the status in force (bits 0-7; 0xF0
    # inside a SysEx) and the data bytes left (bits 8-9). The first data byte and the
    # message's output mask are read only when a message completes.
    merger.state = [0] * n_in
    merger.data1 = bytearray(n_in)
    merger.cur_mask = bytearray(n_in)
    # Routing: per input, a 256-entry table of output masks by status byte.
    merger.masks = [bytearray(256) for _ in range(n_in)]
    # Transforms per (input, output) pair, index i * n_out + o (``router.build_transforms``).
    # ``xouts[i]`` holds the outputs that need one, so untransformed messages pay one test.
    merger.xouts = [0] * n_in
    n_pairs = n_in * n_out
    # Each pair's transform as ``router.build_transforms`` made it (one tuple: one load and
    # one unpack on the transformed path), or None. A pair several routes transform (a split
    # or a layer on one output) holds ``(None, parts, ...)``: firmware.shared_pairs.
    merger.xform = [None] * n_pairs
    # Routing (issue 16): the channel of each input's last note-on, watched only for the
    # inputs some pair follows (``follow_in``); per input, the outputs it left a bent pitch
    # (``held[i][ch]``) or a mod wheel off zero (``held[i][16 + ch]``) on, per input
    # channel (sustain: ``track.sustain``), so a route change centres them (``_strand_controllers``);
    # the input and channel whose program changes select presets (``selector``: ``status |
    # input << 8``, -1 for none).
    merger.follow_ch = bytearray(b"\xff" * n_in)
    merger.follow_in = 0
    merger.held = [bytearray(32) for _ in range(n_in)]
    merger.selector = -1
    # Format 2's routing code, set by start when a preset uses it: (select(program) and
    # follow_moved(merger, input, channel) from firmware.route_events, the module
    # firmware.shared_pairs for pairs several routes transform); one field for all (see
    # the attribute table).
    merger.route_hooks = None
    # Inputs that wait (rule 3): the bytes not yet taken, in carry[i][start:end].
    merger.carry = [bytearray(_USB_CARRY if i == usb else CARRY_SIZE) for i in range(n_in)]
    merger.carry_start = [0] * n_in
    merger.carry_end = [0] * n_in
    merger.stalled = 0  # inputs with bytes waiting in their carry
    merger.forcing = 0  # set by resume(i, room) while the messages it forces are fed: they may not wait
    merger.late_to = 0  # outputs _admit sent the current message's value to (late queue)
    # The rooms. The byte path reads their tables through the aliases below.
    merger.queues = q = OutputQueues()
    setup_queues(q, n_out)
    merger.track = track = Tracking()
    setup_tracking(track, n_in, q)
    merger.clock_master = ClockMaster(n_out)
    merger.rings = q.rings
    merger.heads = q.heads
    merger.tails = q.tails
    merger.out_key = q.out_key
    merger.owed = q.owed
    # Outputs: their writers (``set_outputs``; firmware.ports.Wires), which may get a message
    # sent at once when nothing is queued for them (``set_output_modes``), and which exist.
    merger.wires = Wires(())
    merger.direct = 0
    merger.direct_timing = 0
    merger.present = (1 << n_out) - 1
    merger.msg = bytearray(4)  # a message; [3]: a timing byte sent at once (realtime)
    # Per-output summaries, so the common message tests one mask: ``queued`` (anything in
    # ring, lane or late queue), ``owned`` (a SysEx holds it), ``lated`` (late queue not
    # empty), ``pressed`` (ring below _PRESSURE free); ``busy`` = owned | lated | pressed.
    merger.queued = 0
    merger.owned = 0
    merger.lated = 0
    merger.pressed = 0
    merger.busy = 0
    # SysEx arbitration: the input whose SysEx holds each output, the outputs each input's
    # SysEx streams to, and when each input last sent a SysEx byte (timing bytes do not
    # count: rule 6).
    merger.owner = bytearray(n_out)
    for o in range(n_out):
        merger.owner[o] = NONE
    merger.sysex_to = bytearray(n_in)
    # Per waiting input, the outputs its next message found held by another input's SysEx
    # (set by _admit as it waits, 0 once resume tries it again): until those are free, trying
    # it again cannot succeed (app.WaitingPass).
    merger.sysex_held = bytearray(n_in)
    merger.sysex_last = [0] * n_in
    merger.last_rx = [0] * n_in  # ticks of the last byte read (set by app)
    merger.sensing = bytearray(n_in)  # active sensing seen: watch for silence
    merger.watch = 0  # an open SysEx or active sensing to time out
    merger.now = 0  # ticks_ms of the current pass, set by the caller
    merger.serviced = -1  # the ms tick service() last ran in
    # Counters (small ints: updating them allocates nothing).
    merger.dropped = [0] * (n_out * N_DROP_REASONS)
    merger.coalesced = [0] * n_out
    merger.stray = [0] * n_in  # data bytes with no status, undefined status bytes
    merger.messages_in = [0] * n_in
    merger.sysex_timeouts = 0


def setup_queues(queues, n_out):
    # ``firmware.output_queues.OutputQueues``' fields: rings, timing lanes and late queues for
    # ``n_out`` outputs.
    queues.n_out = n_out
    queues.rings = [bytearray(RING_SIZE) for _ in range(n_out)]
    queues.heads = [0] * n_out  # read counts, 0 .. 2 * RING_SIZE - 1
    queues.tails = [0] * n_out  # write counts
    queues.lanes = [bytearray(LANE_SIZE) for _ in range(n_out)]
    queues.lane_heads = [0] * n_out
    queues.lane_tails = [0] * n_out
    queues.late = [bytearray(4 * LATE_SLOTS) for _ in range(n_out)]
    queues.late_heads = [0] * n_out
    queues.late_tails = [0] * n_out
    queues.late_offs = bytearray(n_out)  # owed offs waiting in the late queue
    # The key a value's late record is looked for by (status, input, data1), and without data1
    # (bend, channel pressure): filled in place, so looking allocates nothing.
    queues.late_key = bytearray(3)
    queues.late_key_short = bytearray(2)
    # Waiting inputs take turns at the room (rule 3), in input order: the next waiting input
    # after the last one that had a turn reserves the outputs it waits for, and the other inputs'
    # messages do not take their room until it has gone on. Without turns a message that
    # waits for all its outputs at once lost their room for ever to messages that take what
    # one output frees (a DIN input's, forced on by rule 4): USB starved at full rate, and
    # in3 and in4 behind in1 and in2.
    queues.reserver = -1  # the input whose turn it is, or -1
    queues.reserved = 0  # the outputs it waits for
    queues.last_reserver = -1
    queues.owed = bytearray(n_out)  # offs owed per output (kept by the tracking room)
    # Running status on output: the status and source (``status | input << 8``) of the last
    # channel message written, or -1 when the next message must state its status.
    queues.out_key = [-1] * n_out
    queues.running_status = bytearray(n_out)  # per output: may omit a repeated status
    for o in range(n_out):
        queues.running_status[o] = 1


def setup_tracking(track, n_in, queues):
    # ``firmware.tracking.Tracking``'s fields (see its rules there).
    track.unused = bytearray(NO_TABLE for _ in range(128))
    track.notes = [[track.unused] * 16 for _ in range(n_in)]
    track.none_taken = [track.unused] * 16  # an input's ``notes`` list while it holds no table
    track.sustain = [bytearray(16) for _ in range(n_in)]
    track.tables = [bytearray(128) for _ in range(NOTE_TABLES)]
    track.held_by = bytearray(FREE for _ in range(NOTE_TABLES))  # input << 4 | channel
    track.spare = bytearray(range(NOTE_TABLES))  # spare[:n_spare]: the spare tables
    track.n_spare = NOTE_TABLES
    track.crowded = -1  # the ms tick when ``take`` last found every table sounding
    track.owed = queues.owed
    track.full = 0  # outputs that owe MAX_OWED offs
    # A route change's offs still to send (``Merger.strand_part``): where its scan of an
    # input's notes goes on, input << 11 | channel << 7 | note, or -1 (one field: a twelfth
    # would grow this object's attribute table by five slots, 40 bytes of heap).
    track.strand_at = -1


# -- configuration (start-up, and the tests' and benches' merger set-ups) -----------------------


def set_outputs(merger, ports, whole=0):
    # The output ports in the router's order (None where absent): firmware.ports' wires, or
    # any object with ``send(buf, start, end, now)``; the outputs in ``whole`` (the CV engine)
    # take whole messages instead, ``take(status, data1, data2)``.
    merger.wires = Wires(ports, whole)


def set_output_modes(merger, running_status, direct):
    # Bitmasks of outputs: which may omit a repeated status byte (running status), and which a
    # completed message may be sent to at once when nothing is queued for them. Direct sends
    # of messages are kept to running-status outputs, and the USB wire and the CV engine (never
    # running status, ``Wires.usbs`` and ``Wires.whole``): Wires.send_message then records the
    # status it sent without a test of the output's mode (call set_outputs first). A timing
    # byte has no status to record: it goes at once to every ``direct`` output with nothing
    # queued but the CV engine, which takes it from its lane.
    wires = merger.wires
    for o in range(merger.n_out):
        merger.queues.running_status[o] = (running_status >> o) & 1
        merger.out_key[o] = -1
    merger.direct = direct & (running_status | wires.usbs | wires.whole)
    merger.direct_timing = direct & ~wires.whole


def prepare_routes(merger, masks):
    # Restrict routing tables to the outputs that exist, in place, once (at start-up), so
    # ``Merger.set_input_routes`` can install them by reference on a preset switch. Returns
    # ``masks``.
    present = merger.present
    for table in masks:
        for s in range(256):
            table[s] &= present
    return masks


def set_routes(merger, masks, transforms=None):
    # Install routing at once: ``masks[i][status]`` (from ``prepare_routes``) is the output
    # bitmask for that status byte; ``transforms[i * n_out + o]`` is None or ``(smap, ntable,
    # vtable, signature, ctable, follow)`` from ``router.build_transforms`` (``transforms``
    # None: none at all). The box's preset switch installs an input a ms tick instead
    # (app.Box.switch_preset).
    for i in range(len(merger.state)):
        merger.set_input_routes(i, masks, transforms)
    while merger.strand_part():
        pass
