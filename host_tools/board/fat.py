"""A FAT12 image of a directory tree: the CIRCUITPY drive the board engine puts in flash.

CircuitPython on the Pico keeps its filesystem in the last 1 MiB of the 2 MiB flash (offset
0x100000, 512-byte sectors) and mounts whatever valid FAT it finds there. This writes one: one
FAT, 1-sector clusters, a 512-entry root directory, long file names (VFAT) for every name that
is not plain upper-case 8.3, and a fixed timestamp so the same tree gives the same image.
"""

import os
import struct

SECTOR = 512
TOTAL_SECTORS = 2048  # 1 MiB
RESERVED = 1
ROOT_ENTRIES = 512
ROOT_SECTORS = ROOT_ENTRIES * 32 // SECTOR
FAT_SECTORS = 6  # 12 bits x (2048 clusters + 2) fits in 3,075 bytes
FIRST_DATA = RESERVED + FAT_SECTORS + ROOT_SECTORS
CLUSTERS = TOTAL_SECTORS - FIRST_DATA
ATTR_DIR = 0x10
ATTR_ARCHIVE = 0x20
ATTR_LFN = 0x0F
DOS_TIME = 0  # 00:00:00
DOS_DATE = (2024 - 1980) << 9 | 1 << 5 | 1  # 2024-01-01


class FatFull(Exception):
    pass


def _boot_sector():
    b = bytearray(SECTOR)
    b[0:3] = b"\xEB\x3C\x90"
    b[3:11] = b"MSWIN4.1"
    struct.pack_into("<HBHBHHBHHHLL", b, 11, SECTOR, 1, RESERVED, 1, ROOT_ENTRIES, TOTAL_SECTORS, 0xF8,
                     FAT_SECTORS, 1, 1, 0, 0)
    struct.pack_into("<BBBL11s8s", b, 36, 0x80, 0, 0x29, 0x54485257, b"CIRCUITPY  ", b"FAT12   ")
    b[510:512] = b"\x55\xAA"
    return b


def _short_name(name, taken):
    """(11-byte 8.3 name, needs a long-name entry)."""
    base, _, ext = name.rpartition(".") if "." in name.lstrip(".") else (name, "", "")
    plain = base and len(base) <= 8 and len(ext) <= 3 and name.upper() == name and "." not in base
    if plain:
        short = base.ljust(8).encode() + ext.ljust(3).encode()
        return short, False
    clean = "".join(c for c in base.upper() if c.isalnum())[:6] or "X"
    ext = "".join(c for c in ext.upper() if c.isalnum())[:3]
    for k in range(1, 100000):
        tail = "~%d" % k
        short = (clean[: 8 - len(tail)] + tail).ljust(8).encode() + ext.ljust(3).encode()
        if short not in taken:
            return short, True
    raise FatFull("too many similar names")


def _checksum(short):
    s = 0
    for c in short:
        s = (((s & 1) << 7) + (s >> 1) + c) & 0xFF
    return s


def _entries(name, short, needs_lfn, attr, cluster, size):
    out = []
    if needs_lfn:
        units = list(name.encode("utf-16-le"))
        chars = [units[i] | units[i + 1] << 8 for i in range(0, len(units), 2)]
        chunks = [chars[i:i + 13] for i in range(0, len(chars), 13)]
        if len(chars) % 13:
            chunks[-1] = chunks[-1] + [0] + [0xFFFF] * (12 - len(chunks[-1]))
        check = _checksum(short)
        for seq in range(len(chunks), 0, -1):
            c = chunks[seq - 1]
            e = bytearray(32)
            e[0] = seq | (0x40 if seq == len(chunks) else 0)
            struct.pack_into("<5H", e, 1, *c[0:5])
            e[11] = ATTR_LFN
            e[13] = check
            struct.pack_into("<6H", e, 14, *c[5:11])
            struct.pack_into("<2H", e, 28, *c[11:13])
            out.append(bytes(e))
    e = bytearray(32)
    e[0:11] = short
    e[11] = attr
    struct.pack_into("<HHHHHHHL", e, 14, DOS_TIME, DOS_DATE, DOS_DATE, 0, DOS_TIME, DOS_DATE, cluster, size)
    out.append(bytes(e))
    return out


class _Image:
    def __init__(self):
        self.data = bytearray(TOTAL_SECTORS * SECTOR)
        self.data[0:SECTOR] = _boot_sector()
        self.fat = [0] * (CLUSTERS + 2)
        self.fat[0] = 0xFF8
        self.fat[1] = 0xFFF
        self.next_free = 2

    def alloc(self, data):
        """Store data in a chain of clusters; returns the first (0 for no data)."""
        n = (len(data) + SECTOR - 1) // SECTOR
        if not n:
            return 0
        if self.next_free + n > CLUSTERS + 2:
            raise FatFull("the files do not fit the 1 MiB CIRCUITPY drive")
        first = self.next_free
        for k in range(n):
            c = first + k
            self.fat[c] = c + 1 if k + 1 < n else 0xFFF
            at = (FIRST_DATA + c - 2) * SECTOR
            chunk = data[k * SECTOR:(k + 1) * SECTOR]
            self.data[at:at + len(chunk)] = chunk
        self.next_free += n
        return first

    def finish(self):
        fat = bytearray(FAT_SECTORS * SECTOR)
        for c in range(0, len(self.fat), 2):
            a = self.fat[c]
            b = self.fat[c + 1] if c + 1 < len(self.fat) else 0
            at = c * 3 // 2
            fat[at:at + 3] = bytes((a & 0xFF, (a >> 8) | ((b & 0xF) << 4), b >> 4))
        self.data[RESERVED * SECTOR:(RESERVED + FAT_SECTORS) * SECTOR] = fat
        return bytes(self.data)


def _directory(image, path, parent_cluster, is_root):
    """Entries of one directory (subdirectories written first, depth first)."""
    entries = []
    taken = set()
    for name in sorted(os.listdir(path)):
        full = os.path.join(path, name)
        short, lfn = _short_name(name, taken)
        taken.add(short)
        if os.path.isdir(full):
            entries.append((name, short, lfn, ATTR_DIR, full))
        else:
            entries.append((name, short, lfn, ATTR_ARCHIVE, full))
    out = []
    for name, short, lfn, attr, full in entries:
        if attr == ATTR_DIR:
            # A directory's cluster chain must exist before its entries name their parent.
            cluster = _write_subdir(image, full, parent_cluster if not is_root else 0)
            out.extend(_entries(name, short, lfn, attr, cluster, 0))
        else:
            with open(full, "rb") as f:
                data = f.read()
            out.extend(_entries(name, short, lfn, attr, image.alloc(data), len(data)))
    return out


def _write_subdir(image, path, parent_cluster):
    # Reserve the directory's own clusters after its children's, then fill them in.
    children_probe = sum(1 for _ in os.listdir(path))
    size = (children_probe * 4 + 2) * 32  # at most 3 LFN entries + 1 short entry each, + . and ..
    blank = bytes(((size + SECTOR - 1) // SECTOR) * SECTOR)
    cluster = image.alloc(blank)
    body = _directory(image, path, cluster, False)
    dot = _entries(".", b".          ", False, ATTR_DIR, cluster, 0)
    dotdot = _entries("..", b"..         ", False, ATTR_DIR, parent_cluster, 0)
    raw = b"".join(dot + dotdot + body)
    if len(raw) > len(blank):
        raise FatFull("directory %s too large" % path)
    at = (FIRST_DATA + cluster - 2) * SECTOR
    image.data[at:at + len(raw)] = raw
    return cluster


def image_of(tree):
    """The FAT12 image (bytes, 1 MiB) holding the files under directory ``tree``."""
    image = _Image()
    root = b"".join(_directory(image, tree, 0, True))
    if len(root) > ROOT_ENTRIES * 32:
        raise FatFull("too many files in the root directory")
    at = (RESERVED + FAT_SECTORS) * SECTOR
    image.data[at:at + len(root)] = root
    return image.finish()
