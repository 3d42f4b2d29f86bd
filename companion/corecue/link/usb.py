"""The belt over USB serial: protocol packets framed by the firmware's own belt.framing.

    transport = SerialTransport("/dev/ttyACM0")     # or: belt = await connect() to auto-detect
    belt = Belt(transport)

pyserial blocks, so a reader thread reads whatever has arrived, feeds it to a framing.Deframer
(which skips REPL text and line noise and drops damaged frames) and hands the packets to the
asyncio loop with call_soon_threadsafe, in the order they arrived. Sending frames the packet and
writes it from the loop's thread; the companion's packets are small (requests and acks).

Auto-detection lists the serial ports, tries Espressif's USB ids first (VID 0x303A: 1001 is the
ESP32-S3's built-in USB serial, 4001 MicroPython's own USB CDC), then other USB serial adapters,
and keeps the port whose device answers HELLO. Ports without a USB id (built-in UARTs) are never
probed.
"""
import asyncio
import errno
import os
import threading

import serial
import serial.tools.list_ports

from corecue.interp import firmware_module
from corecue.link.client import Belt, BeltError, BeltTimeout, DEFAULT_TIMEOUT, LinkLost
from corecue.link.oserrors import words

framing = firmware_module("belt.framing")

ESPRESSIF_VID = 0x303A
PREFERRED_PIDS = (0x1001, 0x4001)
BAUDRATE = 115200           # ignored by USB CDC; matters only behind a USB-UART bridge
PROBE_TIMEOUT = 1.5
_READ_POLL_S = 0.1


class PortError(BeltError):
    """A serial port that cannot be used; one line saying why and what to do."""


def _open_error(port, e):
    n = getattr(e, "errno", None)
    if n == errno.ENOENT or (n is None and not os.path.exists(port)):
        return PortError(f"{port}: no such port (is the belt plugged in? `corecue --port` takes "
                         "a path like /dev/ttyACM0)")
    if n in (errno.EACCES, errno.EPERM):
        return PortError(f"{port}: permission denied: add yourself to the group that owns it "
                         "(dialout or uucp), then log in again")
    if n == errno.EBUSY:
        return PortError(f"{port}: busy: another program (a serial monitor, mpremote) has it open")
    text = str(e)
    if "Inappropriate ioctl" in text or n in (errno.ENOTTY, errno.EISDIR):
        return PortError(f"{port}: not a serial port (`corecue --port` takes a path like "
                         "/dev/ttyACM0)")
    if n:
        what, step = words(e)
        return PortError(f"{port}: cannot open it: {what} ({step})")
    return PortError(f"{port}: cannot open it (unplug the belt, plug it in again, and retry)")


def open_port(port, baudrate=BAUDRATE):
    """The port opened with DTR and RTS set before it opens, so that opening never takes the
    lines through a state that resets an ESP32.

    Both lines are asserted, together: Linux and macOS raise both as the device opens (pyserial
    then applies its own states, DTR first, then RTS), and Windows opens with the states given.
    Deasserting them instead would pass through DTR off with RTS on, which holds an ESP32-S3's
    USB-Serial/JTAG in reset (esptool's reset sequences step around that state), and DTR off
    tells MicroPython's USB CDC that no terminal listens. Behind a USB-UART bridge's auto-reset
    transistors, both asserted leave EN and GPIO0 high: the chip runs."""
    ser = serial.Serial()
    ser.port = port
    ser.baudrate = baudrate
    ser.timeout = _READ_POLL_S
    ser.write_timeout = 2.0
    ser.exclusive = True
    ser.dtr = True
    ser.rts = True
    ser.open()
    return ser


class SerialTransport:
    """A pyserial port carrying framed protocol packets. bytes_in / bytes_out count every byte
    on the wire; deframer.dropped counts damaged frames."""

    def __init__(self, port, baudrate=BAUDRATE):
        self.port = port
        try:
            self._ser = open_port(port, baudrate)
        except (serial.SerialException, OSError, ValueError) as e:
            raise _open_error(port, e) from None
        self.deframer = framing.Deframer()
        self.bytes_in = 0
        self.bytes_out = 0
        self._receiver = None
        self._loop = None
        self._stop = threading.Event()
        self._thread = None
        self._write_lock = threading.Lock()

    def bind(self, receiver):
        """Start delivering packets to receiver (on the running loop's thread)."""
        self._receiver = receiver
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._reader, name=f"serial {self.port}",
                                        daemon=True)
        self._thread.start()

    def _reader(self):
        ser = self._ser
        while not self._stop.is_set():
            try:
                data = ser.read(ser.in_waiting or 1)
            except (serial.SerialException, OSError, TypeError) as e:
                # TypeError: pyserial reading a port closed under it
                if not self._stop.is_set():
                    self._call(self._receiver.connection_lost, e)
                return
            if not data:
                continue
            self.bytes_in += len(data)
            pkts = []
            self.deframer.feed(data, lambda p: pkts.append(bytes(p)))
            if pkts:
                self._call(self._deliver, pkts)

    def _call(self, fn, arg):
        try:
            self._loop.call_soon_threadsafe(fn, arg)
        except RuntimeError:        # the loop has closed: nobody is listening any more
            self._stop.set()

    def _deliver(self, pkts):
        for p in pkts:
            self._receiver.packet_received(p)

    async def send(self, packet):
        wire = framing.encode(packet)
        try:
            with self._write_lock:
                self._ser.write(wire)
        except serial.SerialTimeoutException:
            raise LinkLost(f"{self.port}: the belt is not reading (write timed out)") from None
        except (serial.SerialException, OSError) as e:
            what = words(e)[0] if getattr(e, "errno", None) else "the link failed"
            raise LinkLost(f"{self.port}: cannot write to the belt: {what} (is the cable still "
                           "in?)") from None
        self.bytes_out += len(wire)

    def write_raw(self, data):
        """Put arbitrary bytes on the line (tests: REPL text, noise)."""
        with self._write_lock:
            self._ser.write(data)
        self.bytes_out += len(data)

    async def close(self):
        self._stop.set()
        if self._thread is not None:
            try:
                self._ser.cancel_read()
            except Exception:
                pass
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join, 2.0)
        self._ser.close()


def candidate_ports(ports=None):
    """USB serial ports worth probing, Espressif first: [(device, description)]."""
    if ports is None:
        ports = serial.tools.list_ports.comports()

    def rank(p):
        if p.vid == ESPRESSIF_VID:
            return (0, PREFERRED_PIDS.index(p.pid) if p.pid in PREFERRED_PIDS else 9)
        return (1, 0)

    usb = sorted((p for p in ports if p.vid is not None), key=lambda p: (rank(p), p.device))
    return [(p.device, "%04X:%04X %s" % (p.vid, p.pid or 0, p.description or "")) for p in usb]


async def open_belt(port, timeout=DEFAULT_TIMEOUT, hello_timeout=None):
    """A Belt on this port after a successful HELLO; PortError when nothing answers."""
    transport = SerialTransport(port)
    belt = Belt(transport, timeout)
    try:
        await belt.hello(timeout=hello_timeout)
    except BeltTimeout:
        await belt.close()
        wait = timeout if hello_timeout is None else hello_timeout
        raise PortError(f"{port}: no belt answered within {wait:g} s (is it running the corecue "
                        "firmware, and is no other program using the port?)") from None
    except BaseException:
        await belt.close()
        raise
    return belt


async def find_belt(ports=None, timeout=DEFAULT_TIMEOUT, probe_timeout=PROBE_TIMEOUT):
    """Auto-detect: the one port whose device answers HELLO, as an open Belt."""
    cands = candidate_ports(ports)
    if not cands:
        raise PortError("no USB serial port found: plug the belt in with a data cable (not a "
                        "charge-only one), or name its port with --port")
    found, tried = [], []
    for dev, _desc in cands:
        try:
            found.append(await open_belt(dev, timeout, hello_timeout=probe_timeout))
        except BeltError as e:
            tried.append(f"{dev}: {_why(e, dev)}")
    if len(found) > 1:
        names = ", ".join(b.transport.port for b in found)
        for b in found:
            await b.close()
        raise PortError(f"belts answer on {names}: choose one with --port")
    if not found:
        raise PortError("no belt answered (" + "; ".join(tried) + "); name its port with --port")
    return found[0]


def _why(e, dev):
    text = str(e)
    return text[len(dev) + 2:] if text.startswith(dev + ": ") else text


async def connect(port=None, timeout=DEFAULT_TIMEOUT):
    """The belt on `port`, or the one auto-detection finds, after HELLO."""
    if port:
        return await open_belt(port, timeout)
    return await find_belt(timeout=timeout)
