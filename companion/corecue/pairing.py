"""`corecue scan`, `pair` and `devices`: finding belts and remembering the person's own.

Pairing here means the companion remembers a belt (its device id, name, and how to reach it) so
later commands need no options; it is not Bluetooth bonding. Belts are found by the corecue
service UUID they advertise and named corecue-XXXX after their device id, never by address.
"""
import os

from corecue.client import BeltError
from corecue.connect import Target
from corecue.interp import firmware_module


async def scan(seconds, virtual_dir=None):
    """[(name, rssi)] of the belts advertising now."""
    from corecue import transport_ble as T
    vb = None
    try:
        backend = None
        if virtual_dir:
            from corecue.virtualbelt import VirtualBelt
            vb = await VirtualBelt(virtual_dir).start()
            backend = vb.backend()
        try:
            found = await T.scan(timeout=seconds, backend=backend)
        except Exception as e:          # bleak's errors differ by platform; all mean no radio
            raise BeltError("cannot scan for Bluetooth belts: "
                            f"{' '.join(str(e).split()) or type(e).__name__} (no Bluetooth "
                            "adapter? use --port for USB, or --virtual DIR)") from None
        return [(name, getattr(adv, "rssi", None)) for name, _, adv in found]
    finally:
        if vb is not None:
            await vb.close()


def belt_name(device_hex):
    return firmware_module("belt.blelink").belt_name(bytes.fromhex(device_hex))


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
