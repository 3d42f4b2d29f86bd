"""The plumbing of the `corecue` commands that talk to a belt (which belt, connecting, the
history), and the plain ones: status, config get/set, the belt's own session list, download.
Each prints for a person; every failure is a one-line error that cli.main prints with exit
status 2."""
import asyncio
import json
import os
import sys
import zlib

from corecue.interp import firmware_module
from corecue.link.client import DEFAULT_TIMEOUT


class UsageError(Exception):
    """A command asked for something that cannot be: a setting the belt lacks, an argument of the
    wrong form, an output file that cannot be written (one line, exit status 2)."""


class Refused(Exception):
    """The belt, or the runner, said no where that is the documented outcome (a calibration
    recording refused, a belt not calibrated for a live view): one line, exit status 1."""


def open_history(args, create=True, new=False):
    """The history the options name. create=False for commands that only read it: a mistyped
    --data-dir must not leave an empty history behind. A command that writes makes a new
    history only in a folder that exists, or in the user data folder; a folder typed
    (--data-dir, $CORECUE_DATA_DIR) that does not exist is made only by pair (new)."""
    from corecue.history.database import ENV_VAR, data_dir
    from corecue.history.store import StoreError, open_store
    typed = getattr(args, "data_dir", None) or os.environ.get(ENV_VAR)
    folder = data_dir(getattr(args, "data_dir", None))
    if create and typed and not new and not os.path.exists(folder):
        raise StoreError(f"no history in {folder}: check --data-dir (or ${ENV_VAR}), or start "
                         "one there with `corecue pair`")
    return open_store(getattr(args, "data_dir", None), create=create,
                      notice=lambda text: print(text, file=sys.stderr, flush=True))


def run(command, args, speed=0.0, target=None, store=None, new_belt=False, pairing=False):
    """Connect to the belt the options name (connect.resolve), run `await command(conn, args,
    store)`, disconnect. speed: a virtual belt's time, x real time (0: as fast as it runs).
    new_belt: a --virtual DIR that does not exist yet is made (pair); for every other command
    a mistyped folder is an error, not a new empty belt. Every connection authenticates with
    the keys in the history (corecue.history.keys); pairing: `corecue pair`, which may find
    none."""
    from corecue.link.connect import Connection, resolve
    from corecue.link.usb import PortError
    explicit = args.port or getattr(args, "belt", None) or getattr(args, "virtual", None)
    virtual = getattr(args, "virtual", None)
    if virtual and not new_belt:
        existing_virtual(virtual)
    if store is None and command_needs_store(command):
        store = open_history(args)
    elif store is None:
        store = _existing_history(args)     # the remembered belt, and this computer's keys
    target = target or resolve(args.port, getattr(args, "belt", None),
                               getattr(args, "virtual", None), store)
    if target.transport == "virtual" and target.remembered and not new_belt:
        # A paired virtual belt whose folder went away is gone, not to be made anew and empty.
        existing_virtual(target.address, remembered=True)
    from corecue.history.keys import Keyring

    async def go():
        async with Connection(target, args.timeout or DEFAULT_TIMEOUT, speed=speed,
                              keyring=Keyring(store), pairing=pairing) as conn:
            if store is not None and target.remembered:
                store.touch_belt(conn.device)
            return await command(conn, args, store)
    try:
        return asyncio.run(go())
    except PortError as e:
        if explicit or target.remembered or target.address:
            raise
        raise PortError(f"{e}; no belt is paired either: `corecue pair` remembers one, and "
                        "`corecue --virtual DIR pair` makes a virtual belt to try it without "
                        "hardware") from None
    finally:
        if store is not None:
            store.close()


def existing_virtual(folder, remembered=False):
    """A --virtual folder that must hold a belt already: a one-line error if it does not."""
    from corecue.link.errors import BeltError
    if not os.path.exists(folder) and remembered:
        raise BeltError(f"the virtual belt you paired, in {folder}, is not there any more: pair "
                        f"another (`corecue --virtual DIR pair`) or name a belt with --port, "
                        "--belt or --virtual")
    if not os.path.exists(folder):
        raise BeltError(f"no virtual belt in {folder}: check the path, or make one there with "
                        f"`corecue --virtual {folder} pair`")
    if not os.path.isdir(folder):
        raise BeltError(f"{folder} is not a folder: a virtual belt keeps its flash in one "
                        "(give its folder to --virtual)")


def _existing_history(args):
    """The history if there is one (None on a fresh install: nothing is created for a lookup)."""
    from corecue.history.store import DB_NAME, data_dir
    folder = data_dir(getattr(args, "data_dir", None))
    if not os.path.exists(os.path.join(folder, DB_NAME)):
        return None
    return open_history(args, create=False)


def command_needs_store(command):
    return getattr(command, "needs_store", False)


def uses_store(fn):
    """Mark a belt command that reads or writes the history."""
    fn.needs_store = True
    return fn


def on_belt(fn):
    """A command written for the client alone: (belt, args)."""
    async def command(conn, args, store):
        return await fn(conn.belt, args)
    return command


def _state_name(code):
    names = {v: k.lower() for k, v in vars(firmware_module("belt.runflow").State).items()
             if k.isupper()}
    return {"warmup": "warm-up", "cooldown": "lie-down"}.get(names.get(code), names.get(code)) \
        or f"state {code}"


def _mode_name(code):
    names = firmware_module("belt.effort").MODE_NAMES
    return names[code] if 0 <= code < len(names) else f"mode {code}"


def _on_usb(h):
    """A link over USB is the belt's own USB-C, so its charger has power (hardware/power.md,
    Charging). The belt itself cannot sense USB power; over Bluetooth nothing is known."""
    return "usb" in h.capability_names()


def _battery_words(code):
    """The belt's own level (it has waited for its readings to agree), with what it means."""
    from corecue.history.sessiondata import battery_word
    word = battery_word(code)
    what = {"low": "may not last a long run", "critical": "too low to start a run, charge it",
            "empty": "flat, charge it"}.get(word)
    if word is None:
        return ""
    return f" ({word}: {what})" if what else f" ({word})"


def _size(n):
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KB"
    return f"{n / 1024 / 1024:.2f} MB"


def _duration(ms):
    from corecue.history.figures import duration
    return duration(ms / 1000)


def _yes(flag):
    return "yes" if flag else "no"


async def status(belt, args):
    from corecue.history.sessiondata import battery_word
    h = belt.info
    st = await belt.status()
    if args.json:
        print(json.dumps({
            "device": h.device, "firmware": h.firmware, "protocol": h.version,
            "capabilities": list(h.capability_names()), "state": _state_name(st.state),
            "sensor": _mode_name(st.sensor_mode), "battery_mv": st.battery_mv or None,
            "battery": battery_word(st.battery_level), "usb_power": _on_usb(h),
            "calibrated": bool(st.calibrated), "calibrating": bool(st.calibrating),
            "live": bool(st.live), "open_session": st.open_session or None,
            "flash_used": st.flash_used, "flash_free": st.flash_free,
            "data_area": st.data_area_words()[0],
            "since_boot": {"frames": st.frames, "late": st.late, "missed": st.missed,
                           "overruns": st.overruns, "restarts": st.restarts}}, indent=2))
        return 0
    caps = ", ".join(h.capability_names()) or "none"
    print(f"belt {h.device}, firmware {h.firmware}, protocol {h.version} ({caps})")
    battery = f"{st.battery_mv / 1000:.2f} V{_battery_words(st.battery_level)}" \
        if st.battery_mv else "unknown"
    if _on_usb(h):
        battery += "; on USB power, so charging until full"
    print(f"state: {_state_name(st.state)}; sensor: {_mode_name(st.sensor_mode)}; "
          f"battery: {battery}")
    print(f"calibrated: {_yes(st.calibrated)}; calibrating: {_yes(st.calibrating)}; "
          f"live view: {'on' if st.live else 'off'}")
    print(f"session being recorded: {st.open_session or 'none'}")
    print(f"flash: {_size(st.flash_used)} used by sessions, {_size(st.flash_free)} free; "
          f"data area: {st.data_area_words()[1]}")
    print(f"since boot: {st.frames} frames, {st.late} late callbacks, {st.missed} missed samples,"
          f" {st.overruns} overrun blocks, {st.restarts} task restarts")
    return 0


def _start(e):
    if e.wall:
        from corecue.history.figures import when
        return when(e.wall)
    return f"boot {e.boot_id} +{_duration(e.start_ticks)}"


async def sessions(belt, args):
    entries = await belt.sessions()
    if not entries:
        print("no sessions on the belt")
        return 0
    rows = [("id", "start", "duration", "size", "synced")]
    for e in entries:
        synced = "open" if e.open else _yes(e.synced)
        rows.append((str(e.id), _start(e), _duration(e.duration_ms), _size(e.size), synced))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.rjust(w) if i in (0, 3) else c.ljust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    return 0


async def download(belt, args):
    from corecue.views.outputs import check_file
    check_file(args.output, args.force)
    tty = sys.stderr.isatty()

    def progress(got, size):
        if tty:
            pct = 100 * got // size if size else 100
            print(f"\rsession {args.id}: {got} / {size} bytes ({pct} %)", end="",
                  file=sys.stderr, flush=True)

    try:
        data = await belt.download(args.id, window=args.window, progress=progress)
    finally:
        if tty:
            print(file=sys.stderr)
    crc = zlib.crc32(data) & 0xFFFFFFFF
    tmp = args.output + ".part"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, args.output)
    except OSError as e:
        from corecue.link.oserrors import sentence
        raise UsageError(sentence(e, args.output, "write")) from None
    print(f"session {args.id}: {len(data)} bytes written to {args.output} "
          f"(CRC32 {crc:08x}, verified against the belt)")
    if args.confirm:
        await belt.confirm(args.id, crc)
        print(f"session {args.id} confirmed: the belt marks it synced and may reclaim its space")
    return 0


def add_parsers(sub, port_parent):
    """The belt commands, each taking the global options of port_parent as well."""
    s = sub.add_parser("status", parents=[port_parent], help="the belt's state and health",
                       description="The belt's firmware, state, sensor, battery (in volts and "
                       "words), calibration, the session being recorded, flash use and its "
                       "health since boot.",
                       epilog="examples:\n  corecue status\n  corecue status --json\n"
                       "  corecue --virtual /tmp/belt status")
    s.add_argument("--json", action="store_true", help="the same as one JSON object")
    s.set_defaults(func=lambda a: run(on_belt(status), a))

    d = sub.add_parser("download", parents=[port_parent], help="copy a session off the belt",
                       description="Copy session ID off the belt into FILE; its CRC32 is checked "
                       "against the belt's. --confirm then tells the belt the copy is safe, "
                       "which marks it synced (only synced sessions are ever reclaimed).",
                       epilog="examples:\n  corecue download 4 -o run4.cs\n"
                       "  corecue download 4 -o run4.cs --confirm")
    d.add_argument("id", type=int, metavar="ID",
                   help="the belt's own session number (`corecue sessions --on-belt`)")
    d.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write the session file")
    d.add_argument("--force", action="store_true", help="replace FILE if it exists")
    d.add_argument("--window", type=_window, default=8,
                   help="chunks in flight before an acknowledgement (default 8)")
    d.add_argument("--confirm", action="store_true",
                   help="after a verified download, confirm it to the belt")
    d.set_defaults(func=lambda a: run(on_belt(download), a))


def _window(text):
    import argparse
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 256:
        raise argparse.ArgumentTypeError(f"window must be 1..256 chunks, not {text}")
    return n
