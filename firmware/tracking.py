"""Note and controller tracking: which notes and sustain pedals each input has sounding on
each output, and how many offs each output owes."""

# Rules a reader can check here:
# - A note-on (velocity > 0) sent to an output makes that output owe its note-off; a CC 64 at 64
#   or more (sustain on) makes it owe a CC 64 below 64. The output counts them (``owed``, in
#   ``firmware.output_queues``) and its queues keep room for every one (see there), so the off
#   always goes out: no note or sustain can hang.
# - An output owes at most ``MAX_OWED`` offs; a note-on or sustain-on beyond that is not sent
#   there (dropped, counted ``too_many_notes``), so its off is not owed either.
# - An off the output is not owed (the note is not sounding there) is an ordinary message: it is
#   sent when there is room and may be dropped when there is none.
# - When an input is lost, or a preset switch takes a route away, every note and sustain it has
#   sounding on an output that will not get the off gets its off now (``Merger._strand``).
#
# Tables per input: ``notes[i][channel * 128 + note]`` and ``sustain[i][channel]`` hold the
# outputs the on went to; ``per_channel[i][channel]`` counts the notes held there, so a release
# scans only the channels that have any. About 2 KB per input.
#
# Who calls: ``firmware.merger``, which applies the on / off bookkeeping inline on its message
# path (note and CC 64 messages: a call costs about 1,600 cycles on the RP2040) and calls
# ``turn_off`` / ``paid`` on its checked paths and releases.
#

from micropython import const

N_KEYS = const(2048)  # 16 channels x 128 notes


class Tracking:
    def __init__(self, n_in, queues):
        self.notes = [bytearray(N_KEYS) for _ in range(n_in)]
        self.sustain = [bytearray(16) for _ in range(n_in)]
        self.per_channel = [bytearray(16) for _ in range(n_in)]
        self.owed = queues.owed
        self.full = 0  # outputs that owe MAX_OWED offs

    def turn_off(self, i, table, idx, offs):
        # The outputs in ``offs`` are getting input ``i``'s off for ``idx``; it is no longer
        # sounding there (the owed count drops when the off is written: ``paid``).
        old = table[idx]
        table[idx] = old & ~offs
        if old and not table[idx] and table is self.notes[i]:
            self.per_channel[i][idx >> 7] -= 1
