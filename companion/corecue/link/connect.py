"""Which belt a command talks to, and a connection to it that survives a dropped link.

A command names its belt with `--port PATH` (USB), `--belt NAME` (Bluetooth LE: corecue-3F2A or
3F2A, or the name of a remembered belt, whatever its transport) or `--virtual DIR` (the in-process
virtual belt, corecue.twin.virtualbelt); without any of them it uses the remembered default belt
(`corecue pair`), else it looks for one on USB.

    async with Connection(target, keyring=keys) as conn:
        belt = conn.belt                      # a corecue.link.client.Belt, HELLO done,
                                              # authenticated (docs/protocol.md), clock set
        data = await conn.download(sid)       # reconnects and resumes after a dropped link
"""
import asyncio
import time
from dataclasses import dataclass

from corecue.interp import firmware_module
from corecue.link.client import DEFAULT_TIMEOUT, BeltError, LinkLost

RECONNECTS = 5              # a download survives this many dropped links
RECONNECT_WAIT_S = 1.0      # before the first reconnect, doubling after each


@dataclass
class Target:
    transport: str          # "usb", "ble" or "virtual"
    address: str = ""       # port path, BLE name or id, virtual belt folder ("" for USB: find it)
    remembered: bool = False
    device: str = ""        # the device id expected to answer ("": any belt)

    def describe(self):
        what = {"usb": "USB", "ble": "Bluetooth", "virtual": "virtual belt"}[self.transport]
        return f"{what} {self.address}".strip()


def resolve(port=None, belt=None, virtual=None, store=None):
    """The Target the options name; at most one of port, belt, virtual. A name that matches a
    remembered belt uses that belt's transport; without options, the default remembered belt,
    else USB auto-detection."""
    given = [x for x in (port, belt, virtual) if x]
    if len(given) > 1:
        raise BeltError("name one belt: --port, --belt or --virtual, not several")
    if port:
        return Target("usb", port)
    if virtual:
        return Target("virtual", virtual)
    if belt:
        rec = store.find_belt(belt) if store is not None else None
        if rec is not None:
            return Target(rec.transport, rec.address, remembered=True, device=rec.device)
        if _is_device_id(belt):
            # A device id names a belt by what it advertises (its name), then HELLO confirms it.
            return Target("ble", belt_name(belt.lower()), device=belt.lower())
        return Target("ble", belt)
    rec = store.default_belt() if store is not None else None
    if rec is not None:
        return Target(rec.transport, rec.address, remembered=True, device=rec.device)
    return Target("usb", "")


def _is_device_id(text):
    return len(text) == 16 and all(c in "0123456789abcdefABCDEF" for c in text)


async def scan(seconds, virtual_dir=None):
    """[(name, rssi)] of the belts advertising now."""
    from corecue.link import ble as T
    vb = None
    try:
        backend = None
        if virtual_dir:
            from corecue.twin.virtualbelt import VirtualBelt
            vb = await VirtualBelt(virtual_dir, speed=1.0).start()   # a scan is real time
            backend = vb.backend()
        try:
            found = await T.scan(timeout=seconds, backend=backend)
        except Exception:               # bleak's errors differ by platform; all mean no radio
            raise BeltError("cannot scan for belts: " + T.NO_RADIO) from None
        return [(name, getattr(adv, "rssi", None)) for name, _, adv in found]
    finally:
        if vb is not None:
            await vb.close()


def belt_name(device_hex):
    return firmware_module("belt.blelink").belt_name(bytes.fromhex(device_hex))


class Connection:
    """One belt, connected; `reconnect()` makes a new link to the same belt. For a virtual belt
    it also owns the belt itself (started on enter, stopped on exit)."""

    def __init__(self, target, timeout=None, speed=0.0, set_clock=True, keyring=None,
                 pairing=False, virtual=None):
        """keyring: this computer's keys (`host_id`, `key(device)`: corecue.history.keys.Keyring);
        every connection authenticates with it. pairing: a belt this computer holds no working
        key for is left connected but unauthenticated, for `corecue pair` (`authenticated` says
        which); otherwise that is NotPaired. virtual: a VirtualBelt already running, for a
        virtual target (left running on exit; else one is started here and stopped here)."""
        self.target = target
        self.timeout = timeout or DEFAULT_TIMEOUT
        self.speed = speed
        self.set_clock = set_clock
        self.keyring = keyring
        self.pairing = pairing
        self.authenticated = False
        self.virtual = virtual      # the VirtualBelt, for a virtual target
        self._own_virtual = virtual is None     # started here, so stopped here
        self.belt = None
        self.reconnects = 0

    async def __aenter__(self):
        if self.target.transport == "virtual" and self.virtual is None:
            from corecue.twin.virtualbelt import VirtualBelt
            self.virtual = await VirtualBelt(self.target.address, self.speed).start()
        try:
            await self._connect()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc):
        await self._drop()
        if self.virtual is not None and self._own_virtual:
            await self.virtual.close()
            self.virtual = None

    async def _connect(self):
        if self.virtual is None:
            return await self._connect_now()
        async with self.virtual.real_time():
            return await self._connect_now()

    async def _connect_now(self):
        from corecue.link.client import Belt
        t = self.target
        if t.transport == "usb":
            from corecue.link.usb import connect
            belt = await connect(t.address or None, self.timeout)
        else:
            from corecue.link import ble as transport_ble
            if self.virtual is not None:
                # A belt asleep after its idle time is woken by its button; the virtual belt's
                # wearer presses it for the companion (a real one asks the runner to).
                await self.virtual.wake()
                transport = await transport_ble.connect(self.virtual.name,
                                                        backend=self.virtual.backend())
            else:
                transport = await transport_ble.connect(t.address or None)
            belt = Belt(transport, timeout=self.timeout)
            await belt.hello()
        self.belt = belt
        if t.device and belt.info.device != t.device:
            # Two belts can share a name (it carries two bytes of the id): never act on the
            # wrong one.
            await self._drop()
            raise BeltError(f"the belt that answered is {belt.info.device}, not {t.device} "
                            "(another belt with the same name nearby?)")
        try:
            self.authenticated = await self._authenticate(belt)
        except BaseException:
            await self._drop()
            raise
        if self.set_clock and self.authenticated:
            # Every connection sets the belt's clock: sessions are placed in time by it.
            await belt.time_set(int(time.time()))
        return belt

    async def _authenticate(self, belt):
        """Prove this computer to the belt (docs/protocol.md, "Ownership"); False only when
        pairing and there is no key the belt takes."""
        from corecue.link import auth
        from corecue.link.errors import AuthRequired
        device = belt.info.device
        key = self.keyring.key(device) if self.keyring is not None else None
        name = belt_name(device)
        if key is None:
            if self.pairing:
                return False
            raise auth.NotPaired(f"this computer is not paired with {name}: {auth.PAIR_HINT} "
                                 "(or `corecue pair --port PATH` over USB)")
        try:
            await auth.authenticate(belt, key, self.keyring.host_id)
        except (AuthRequired, auth.NotYourBelt) as e:
            if self.pairing:
                return False
            why = getattr(e, "message", None) or str(e)
            raise auth.NotPaired(f"{name} does not take this computer's key ({why}): "
                                 f"{auth.PAIR_HINT}") from None
        return True

    @property
    def device(self):
        return self.belt.info.device

    async def sleep(self, seconds):
        """Wait in the belt's time: real time for a real belt, the virtual belt's own clock."""
        if self.virtual is not None:
            await self.virtual.sleep(seconds)
        else:
            await asyncio.sleep(seconds)

    async def _drop(self):
        if self.belt is not None:
            try:
                await self.belt.close()
            except (BeltError, OSError):
                pass            # the link is already gone: nothing more to close
            self.belt = None

    async def reconnect(self):
        await self._drop()
        self.reconnects += 1
        return await self._connect()

    async def download(self, sid, have=b"", progress=None, window=8, on_partial=None):
        """Session sid's bytes, resuming after a dropped link from the last contiguous offset
        (up to RECONNECTS times). `have` resumes an earlier, interrupted download. on_partial(
        bytes) is called with what arrived whenever a link drops, so a caller can keep it."""
        wait = RECONNECT_WAIT_S
        for attempt in range(RECONNECTS + 1):
            try:
                return await self.belt.download(sid, offset=len(have), have=have,
                                                window=window, progress=progress)
            except LinkLost as e:
                have = getattr(e, "partial", have) or have
                if on_partial:
                    on_partial(have)
                if attempt == RECONNECTS:
                    raise
            await asyncio.sleep(wait)
            wait *= 2
            while True:
                try:
                    await self.reconnect()
                    break
                except BeltError:
                    if self.reconnects > RECONNECTS * 3:
                        raise
                    await asyncio.sleep(wait)


class RadioUnavailable(BeltError):
    """The computer's Bluetooth cannot listen now (no adapter, switched off, asleep)."""


@dataclass(frozen=True)
class Heard:
    """A belt heard advertising: `asked`, link.ble.sync_asked's count (None: not advertised)."""
    asked: int | None = None


class Reach:
    """The belt a Target names, looked for again and again (`corecue sync --watch`): `await
    heard(seconds)` says whether it advertises now, `connect()` makes a Connection to it. A
    virtual belt runs for as long as the Reach is open, as a real belt stays on between looks."""

    def __init__(self, target, timeout=None, speed=1.0, keyring=None):
        if target.transport not in ("ble", "virtual"):
            raise BeltError("only a Bluetooth belt can be watched for: pair it over Bluetooth "
                            "(`corecue pair`), or plug it in and run `corecue sync`")
        self.target = target
        self.timeout = timeout
        self.speed = speed          # a virtual belt's time, x real (watching is real time)
        self.keyring = keyring      # this computer's keys: every connection authenticates
        self.virtual = None

    async def __aenter__(self):
        if self.target.transport == "virtual":
            from corecue.twin.virtualbelt import VirtualBelt
            self.virtual = await VirtualBelt(self.target.address, self.speed).start()
        return self

    async def __aexit__(self, *exc):
        if self.virtual is not None:
            await self.virtual.close()
            self.virtual = None

    @property
    def name(self):
        return self.virtual.name if self.virtual is not None else self.target.address

    async def heard(self, seconds):
        """Heard when the belt advertises within `seconds`, None when it does not;
        RadioUnavailable when nobody can tell."""
        from corecue.link import ble as T
        backend = self.virtual.backend() if self.virtual is not None else None
        try:
            found = await T.scan(timeout=seconds, backend=backend)
        except Exception as e:          # bleak's errors differ by platform; all mean no radio
            raise RadioUnavailable(" ".join(str(e).split()) or type(e).__name__) from None
        name = self.name
        for n, dev, adv in found:
            if n == name or getattr(dev, "address", None) == name:
                return Heard(T.sync_asked(adv))
        return None

    def connect(self):
        return Connection(self.target, self.timeout, keyring=self.keyring, virtual=self.virtual)
