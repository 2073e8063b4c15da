"""Note and controller tracking: which notes and sustain pedals each input has sounding on
each output, and how many offs each output owes."""

# Rules a reader can check here:
# - A note-on (velocity > 0) sent to an output makes that output owe its note-off; a CC 64 at 64
#   or more (sustain on) makes it owe a CC 64 below 64. The output counts them (``owed``, in
#   ``firmware.output_queues``) and its queues keep room for every one (see there), so the off
#   always goes out: no note or sustain can hang.
# - An output owes at most ``MAX_OWED`` offs; a note-on or sustain-on beyond that is not sent
#   there (dropped, counted ``too_many_notes``), so its off is not owed either.
# - Notes sound on at most ``NOTE_TABLES`` channels at once, counting each input's channels
#   apart: a note-on on a further channel is not sent (``too_many_notes``), so its off is not
#   owed either.
# - An off the output is not owed (the note is not sounding there) is an ordinary message: it is
#   sent when there is room and may be dropped when there is none.
# - When an input is lost, or a preset switch takes a route away, every note and sustain it has
#   sounding on an output that will not get the off gets its off (``Merger._strand_notes``:
#   now, or in the parts of a preset switch, ``Merger.strand_part``).
#
# Tables: ``notes[i][channel][note]`` and ``sustain[i][channel]`` hold the outputs the on went
# to. A channel's notes take one of ``NOTE_TABLES`` 128-byte tables when its first note sounds
# and keep it (a note path with nothing to count); a channel that never had one reads the shared
# ``unused`` table, every entry ``NO_TABLE``. When none is spare, the tables of channels where
# nothing sounds any more go back (``take``). 5.9 KB, where a table per input was 10.9 KB
# (docs/design.md, "Heap").
#
# Who calls: ``firmware.merger``, which applies the on / off bookkeeping inline on its message
# path (note and CC 64 messages: a call costs about 1,600 cycles on the RP2040), calls ``take``
# for a channel's first note, and clears entries itself on its releases.
#

from micropython import const

# Channels (of all inputs together) that may have notes sounding at once: two 16-channel
# sources playing every channel, with room to spare for the rest (a channel takes a table
# while its notes sound, and 144 bytes of heap for it).
NOTE_TABLES = const(32)
NO_TABLE = const(0x80)  # every entry of ``unused``: above any output mask (6 outputs, 6 bits)
FREE = const(0xFF)  # in ``held_by``: the table is spare

SILENT_NOTES = bytes(128)  # a table with nothing sounding


class Tracking:
    # Its fields are set up by start-up code, which leaves the heap once the box runs (app):
    # firmware/merger_setup.py, ``setup_tracking``, explains each one (annotations only here:
    # nothing at run time).
    unused: bytearray
    notes: list
    none_taken: list
    sustain: list
    tables: list
    held_by: bytearray
    spare: bytearray
    n_spare: int
    crowded: int
    owed: bytearray
    full: int
    strand_at: int

    def take(self, i, ch, now):
        # A table for input ``i``'s channel ``ch``, whose first note is about to sound: a spare
        # one; else, once a ms tick at most, the tables of every channel where nothing sounds
        # any more go back first. None when every table has notes sounding.
        n = self.n_spare
        if not n:
            if now == self.crowded:
                return None
            n = self._take_back()
            if not n:
                self.crowded = now
                return None
        n -= 1
        self.n_spare = n
        k = self.spare[n]
        self.held_by[k] = i << 4 | ch
        table = self.tables[k]
        self.notes[i][ch] = table
        return table

    def _take_back(self):
        # The tables with nothing sounding become spare again. Returns how many are spare.
        n = self.n_spare
        held_by = self.held_by
        tables = self.tables
        for k in range(NOTE_TABLES):
            h = held_by[k]
            if h != FREE and tables[k] == SILENT_NOTES:
                self.notes[h >> 4][h & 0x0F] = self.unused
                held_by[k] = FREE
                self.spare[n] = k
                n += 1
        self.n_spare = n
        return n
