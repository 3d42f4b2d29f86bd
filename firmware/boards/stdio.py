# The process's stdin and stdout as the protocol's byte stream. On the ESP32 they are the USB
# CDC port (the REPL's line, which stays usable: framing never sends a Ctrl-C); on the desktop
# they are the virtual belt's (main.py --serial), usually a pseudo-terminal the companion holds.
#
# MicroPython's stream reads wait until the whole buffer is filled, so the port waits for one
# byte through asyncio and then takes only what poll() says is already there, a byte at a time.
# Requests are short; the belt's long messages all go the other way.
import select
import sys

import asyncio

try:
    import os
    _os_read = os.read              # CPython: the event loop watches the descriptor
except (ImportError, AttributeError):
    _os_read = None


_ECHO = 8       # termios c_lflag ECHO and c_oflag OPOST, the same on Linux and macOS
_OPOST = 1


class StdioPort:
    def __init__(self, raw=False):
        self._in = getattr(sys.stdin, "buffer", sys.stdin)
        self._out = getattr(sys.stdout, "buffer", sys.stdout)
        self._poll = select.poll()
        self._poll.register(self._in, select.POLLIN)
        self._one = bytearray(1)
        self._stream = None if _os_read else asyncio.StreamReader(self._in)
        self._saved = None
        self.dead = False           # the host has gone: writes are dropped
        if raw:
            self._raw()

    def _raw(self):
        # A terminal would echo the companion's bytes back, turn 0x0a into 0x0d 0x0a and act on
        # Ctrl-Z or Ctrl-\ inside a frame: bytes must pass untouched. Making a terminal raw also
        # discards input not yet read, so one that is raw already (the companion set it up before
        # starting the belt: no echo, no output processing) is left as it is. Pipes are left alone.
        try:
            import termios
            attrs = termios.tcgetattr(0)
            if not (attrs[3] & _ECHO or attrs[1] & _OPOST):
                return
            self._saved = attrs
            if hasattr(termios, "setraw"):      # MicroPython
                termios.setraw(0)
            else:
                import tty
                tty.setraw(0)
        except Exception:       # not a terminal (pipes, tests), or a port without termios
            self._saved = None

    def close(self):
        if self._saved is not None:
            import termios
            try:
                termios.tcsetattr(0, termios.TCSANOW, self._saved)
            except Exception:
                pass
            self._saved = None

    async def readinto(self, buf):
        """Wait for bytes; put what has arrived (at most len(buf)) into buf. 0: end of stream."""
        if _os_read:
            return await self._readinto_fd(buf)
        try:
            n = await self._stream.readinto(memoryview(self._one))
        except OSError:             # a pseudo-terminal whose other end closed: EIO
            return 0
        if not n:
            return 0
        buf[0] = self._one[0]
        k = 1
        while k < len(buf):
            ready = self._poll.poll(0)
            if not ready or not ready[0][1] & select.POLLIN:
                break
            try:
                if not self._in.readinto(self._one):
                    break
            except OSError:
                break
            buf[k] = self._one[0]
            k += 1
        return k

    async def _readinto_fd(self, buf):
        loop = asyncio.get_event_loop()
        fd = self._in.fileno()
        ready = loop.create_future()
        loop.add_reader(fd, lambda: ready.done() or ready.set_result(None))
        try:
            await ready
        finally:
            loop.remove_reader(fd)
        try:
            data = _os_read(fd, len(buf))
        except OSError:
            return 0
        buf[:len(data)] = data
        return len(data)

    def write(self, data, n=None):
        """Write data, or its first n bytes: MicroPython's streams take the length, so the
        belt's links write from their buffers without a slice (a new object) per frame."""
        if self.dead:
            return
        try:
            if n is None:
                self._out.write(data)
            elif _os_read:
                self._out.write(memoryview(data)[:n])
            else:
                self._out.write(data, 0, n)
            if _os_read:
                self._out.flush()
        except OSError:
            self.dead = True
