"""Fake ``storage``: who may write the CIRCUITPY drive, as CircuitPython decides it in boot.py.

By default the computer (over USB) may write the drive and the firmware may not. boot.py may
call ``remount("/", readonly=False)`` to give the firmware write access instead (the computer
then sees the drive read-only). As on the board, remounting "/" while it is visible over USB
is refused outside boot.py. The state lives in the world (``world.drive``) so it survives the
purge of fake modules between boot.py and code.py, and a reboot starts it afresh."""

from host_tools.sim import world as _world


def _drive():
    w = _world.current()
    drive = w.__dict__.get("drive")
    if drive is None:
        drive = w.drive = {"firmware_writable": False, "usb_drive": True, "in_boot": False, "remounts": []}
    return drive


class _Mount:
    def __init__(self, readonly):
        self.readonly = readonly
        self.label = "CIRCUITPY"


def remount(mount_path, readonly=False, *, disable_concurrent_write_protection=False):
    if not isinstance(mount_path, str):
        raise TypeError("mount_path must be a str")
    if mount_path != "/":
        raise OSError(22, "Invalid argument")  # only the root is mounted on this box
    drive = _drive()
    if drive["usb_drive"] and not drive["in_boot"]:
        raise RuntimeError("Cannot remount path when visible via USB.")
    drive["firmware_writable"] = not readonly
    drive["remounts"].append((mount_path, bool(readonly), bool(disable_concurrent_write_protection)))


def getmount(mount_path):
    if mount_path != "/":
        raise OSError(22, "Invalid argument")
    return _Mount(readonly=not _drive()["firmware_writable"])


def disable_usb_drive():
    drive = _drive()
    if not drive["in_boot"]:
        raise RuntimeError("Cannot change USB devices now")
    drive["usb_drive"] = False
    return True


def enable_usb_drive():
    drive = _drive()
    if not drive["in_boot"]:
        raise RuntimeError("Cannot change USB devices now")
    drive["usb_drive"] = True
    return True
