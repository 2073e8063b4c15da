"""MicroPython's stream ``write`` arguments, for the fakes whose real class uses it
(``busio.UART``, ``usb_midi.PortOut``): ``write(buf)``, ``write(buf, max)`` or
``write(buf, offset, max)``; the bytes from ``offset``, at most ``max`` of them, no copy made
on the board (py/stream.c, ``stream_write_method``)."""


def span(buf, args):
    """The bytes a stream ``write(buf, *args)`` takes."""
    data = bytes(buf)
    if len(args) > 2:
        raise TypeError("function takes at most 4 positional arguments")
    off = 0
    size = len(data)
    if len(args) == 1:
        size = int(args[0])
    elif len(args) == 2:
        off = min(int(args[0]), len(data))
        size = int(args[1])
    return data[off:off + max(size, 0)]
