"""`corecue pair`, `devices` and `forget`: remembering the person's own belt.

Pairing here means the companion remembers a belt (its device id, name, and how to reach it) so
later commands need no options; it is not Bluetooth bonding. Finding belts and their names
(corecue-XXXX after the device id, never an address) is corecue.link.connect's.
"""
import os

from corecue.link.client import BeltError
from corecue.link.connect import Target, belt_name


def pair_target(args):
    """What `corecue pair` connects to: the belt named by the options, else the first belt
    heard over Bluetooth."""
    if args.port:
        return Target("usb", args.port)
    if args.virtual:
        return Target("virtual", os.path.abspath(args.virtual))
    return Target("ble", args.belt or "")


async def pair(conn, store, out=print):
    t = conn.target
    name = belt_name(conn.device)
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
    out(f"forgot {rec.name}; its sessions stay in the history")
