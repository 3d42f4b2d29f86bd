"""`corecue pair`, `devices` and `forget`: remembering the person's own belt.

Pairing makes this computer the belt's owner (docs/protocol.md, "Ownership"): a key agreement
over USB (holding the belt is the authority) or, over Bluetooth, inside the pairing window the
runner opens by holding the belt's button until it buzzes twice. The key is kept in the history
(corecue.history.keys) and every later connection proves it. The companion also remembers the
belt (its device id, name, and how to reach it) so later commands need no options. It is not
Bluetooth bonding, which follows it over Bluetooth as defence in depth only. Finding belts and their names (corecue-XXXX after the device id, never an
address) is corecue.link.connect's.
"""
import asyncio
import os
import time

from corecue.history import keys as _keys
from corecue.link import auth, ble
from corecue.link.client import AuthRequired, BeltError, LinkLost
from corecue.link.connect import Target, belt_name

WINDOW_WAIT_S = 60.0        # how long `corecue pair` waits for the runner's long press
RETRY_S = 1.0


def pair_target(args):
    """What `corecue pair` connects to: the belt named by the options, else the first belt
    heard over Bluetooth."""
    if args.port:
        return Target("usb", args.port)
    if args.virtual:
        return Target("virtual", os.path.abspath(args.virtual))
    return Target("ble", args.belt or "")


async def _pair_key(conn, host, out, yes):
    """The pairing key, made with the belt: at once over USB; over Bluetooth once the runner
    has opened the window (a virtual belt's button is held for them). A Bluetooth connection
    that waits for the window is dropped by the belt after 5 s, so it is made again each try."""
    if conn.target.transport == "usb":
        return await auth.pair(conn.belt, host)
    if not yes:
        out("hold the belt's button until it buzzes twice (the pairing window, 60 s)"
            + (": a virtual belt's is held for you" if conn.virtual is not None else ""))
    if conn.virtual is not None:
        await conn.virtual.hold_button()
        await conn.reconnect()
    deadline = time.monotonic() + WINDOW_WAIT_S
    while True:
        try:
            return await auth.pair(conn.belt, host)
        except AuthRequired as e:
            if "window" not in e.message or time.monotonic() >= deadline:
                raise
        except LinkLost:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(RETRY_S)
        await conn.reconnect()


async def pair(conn, store, out=print, yes=False):
    t = conn.target
    name = belt_name(conn.device)
    if not conn.authenticated:
        if conn.virtual is not None:
            # The runner's long press and the belt's 60 s window in the belt's own time.
            async with conn.virtual.real_time():
                key = await _pair_key(conn, _keys.host_id(store), out, yes)
        else:
            key = await _pair_key(conn, _keys.host_id(store), out, yes)
        _keys.keep_key(store, conn.device, key)
        await conn.belt.time_set(int(time.time()))
        if getattr(conn.belt.transport, "client", None) is not None:
            # Over Bluetooth, also the system's bond with the belt: defence in depth only, a
            # failure is a logged note (corecue.link.ble.bond).
            await ble.bond(conn.belt.transport)
    # Remember how to reach it again: a BLE belt by its name (addresses change), a USB belt by
    # its port, a virtual belt by its folder.
    address = {"ble": name, "usb": getattr(conn.belt.transport, "port", t.address),
               "virtual": os.path.abspath(t.address)}[t.transport]
    rec = store.remember_belt(conn.device, name, t.transport, address)
    info = conn.belt.info
    how = {"ble": "Bluetooth", "usb": f"USB ({address})", "virtual": f"virtual belt ({address})"}
    out(f"paired with {rec.name} over {how[t.transport]}: firmware {info.firmware}, "
        f"device id {conn.device}; it is your default belt now")
    return rec


def devices(store, out=print):
    belts = store.belts()
    if not belts:
        out("no belts remembered: `corecue pair` remembers one")
        return
    for b in belts:
        mark = "*" if b.is_default else " "
        out(f"{mark} {b.name}  {b.transport:7s}  {b.address}  (id {b.device})")


def forget(store, key, out=print):
    rec = store.forget_belt(key)
    if rec is None:
        raise BeltError(f"no remembered belt {key} (see `corecue devices`)")
    out(f"forgot {rec.name} and this computer's key for it; its sessions stay in the history")


async def revoke(conn, store, out=print):
    """`corecue devices --forget NAME --revoke`: the belt drops this computer's key (unpair),
    then the history forgets the belt. The belt answers after its key file is saved and then ends
    the connection; should the answer be lost with the link, connecting again shows whether the
    belt still takes this computer's key."""
    device = conn.device
    name = belt_name(device)
    try:
        if conn.virtual is not None:
            async with conn.virtual.real_time():    # the belt's 50 ms for its answer to leave
                remaining, = (await conn.belt.request("unpair", _keys.host_id(store)))[0]
        else:
            remaining, = (await conn.belt.request("unpair", _keys.host_id(store)))[0]
        others = f" ({remaining} other computer{'' if remaining == 1 else 's'} paired)"
    except LinkLost:
        try:
            await conn.reconnect()
        except auth.NotPaired:
            others = ""
        else:
            raise BeltError(f"the link to {name} dropped before it confirmed; it still knows "
                            "this computer: try again") from None
    out(f"{name} no longer knows this computer{others}")
    forget(store, device, out)
