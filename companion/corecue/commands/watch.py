"""`corecue sync --watch`: the paired belt synced by itself whenever it comes within reach.

A belt advertises only while it is awake and not running (after it boots or wakes, after the
lie-down, when asked; never during a run; fast in a window and slowly after it, belt.radiowindow),
so the watcher listens for it every few seconds and syncs once per stretch of hearing it: the
first time it hears the belt after not hearing it. A belt that stays within reach, advertising
slowly, is synced again when its runner asks (a double press): its advertisement counts the
requests, so the watcher syncs once per press, even one whose fast window it missed; a belt whose
firmware does not count them is synced once per stretch only. A sync that fails is tried again
at the next look. Every sync is `corecue sync`'s own, with its guarantees (nothing stored
twice, nothing confirmed to the belt that is not stored byte for byte). One line per sync; when
the computer sleeps or the Bluetooth adapter goes away the watcher says so once and listens again.
"""
import asyncio
import time

from corecue.history.figures import when
from corecue.history.sync import SyncError, sync
from corecue.history.storeinput import StoreError
from corecue.link.connect import RadioUnavailable, Reach
from corecue.link.errors import BeltError

EVERY_S = 30.0          # between looks: a window lasts minutes, a look costs a short scan
SCAN_S = 5.0            # how long one look listens: the belt advertises every 200 ms in a window,
                        # every 1 s after it by default and at most every 2.5 s (adv_slow_ms)


class Watcher:
    """heard(): the belt advertising now, a connect.Heard, or None when it is not heard
    (RadioUnavailable if nobody can tell);
    sync_now(): one sync, returning the history's numbers of the runs it stored. out(line) gets one line per sync,
    sleep(seconds) waits between looks, now() gives unix seconds for the lines."""

    def __init__(self, name, heard, sync_now, out=print, sleep=asyncio.sleep, every_s=EVERY_S,
                 now=time.time):
        self.name = name
        self.heard = heard
        self.sync_now = sync_now
        self.out = out
        self.sleep = sleep
        self.every_s = every_s
        self.now = now
        self.window_synced = False      # this window has had its sync
        self.asked = None               # the belt's sync request count when last heard (None:
                                        # not known yet, or its firmware does not count them)
        self.radio_down = None          # why the radio cannot listen, once said
        self.syncs = 0

    def _say(self, text):
        self.out(f"{when(self.now(), with_seconds=True)}  {text}")

    async def look(self):
        """One look: "no radio", "away", "done" (synced already in this window), "synced" or
        "failed"."""
        try:
            here = await self.heard()
        except RadioUnavailable as e:
            if self.radio_down is None:
                self._say(f"Bluetooth is not available ({e}); listening again every "
                          f"{self.every_s:g} s")
            self.radio_down = str(e)
            return "no radio"
        if self.radio_down is not None:
            self._say("Bluetooth is back; listening for " + self.name)
            self.radio_down = None
        if here is None:
            self.window_synced = False
            return "away"
        # A count that has changed to other than 0 is a request (0: none since the belt booted,
        # so a reboot asks for nothing); the first count heard is only where counting starts.
        asked = here.asked
        request = asked not in (None, 0, self.asked) and self.asked is not None
        if self.window_synced and not request:
            self.asked = asked
            return "done"
        try:
            new = await self.sync_now()
        except (BeltError, SyncError, StoreError, OSError) as e:
            self._say(f"{self.name}: sync failed ({' '.join(str(e).split())}); trying again in "
                      f"{self.every_s:g} s")
            return "failed"             # self.asked kept: a request stays one until synced
        self.window_synced = True
        self.asked = asked
        self.syncs += 1
        runs = ", ".join(f"#{n}" for n in new)
        why = "sync asked for on the belt; " if request else ""
        self._say(f"{self.name}: {why}synced, " + (
            f"{len(new)} new run{'s' if len(new) != 1 else ''} ({runs})" if new
            else "nothing new"))
        return "synced"

    async def run(self, looks=None):
        """Look every every_s seconds, for ever (or `looks` times)."""
        while looks is None or looks > 0:
            await self.look()
            if looks is not None:
                looks -= 1
                if not looks:
                    break
            await self.sleep(self.every_s)


async def watch(target, store, every_s=EVERY_S, timeout=None, out=print, looks=None):
    """Watch for the belt `target` names (Bluetooth or virtual: a belt on USB is synced with
    `corecue sync` while it is plugged in) and sync it into `store` once per advertising
    window, and again whenever its runner asks."""
    from corecue.history.keys import Keyring
    async with Reach(target, timeout, keyring=Keyring(store)) as reach:
        async def heard():
            return await reach.heard(SCAN_S)

        async def sync_now():
            async with reach.connect() as conn:
                # One line per sync: the per-run lines of `corecue sync` are left out.
                return await sync(conn, store, out=lambda line: None)

        await Watcher(reach.name, heard, sync_now, out=out, every_s=every_s).run(looks)
