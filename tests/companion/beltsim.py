"""An asyncio loop on a virtual clock, for the companion's tests: when nothing is ready, time
jumps to the next timer instead of passing. (realbelt.SimTimeLoop puts the sim board's clock
under it.)"""
import asyncio
import selectors


# -- virtual time ------------------------------------------------------------------------------

class _Selector:
    """Never sleeps: when nothing is ready, advances the loop's virtual clock to the next timer.
    With nothing ready and no timer the test would hang for ever: that is an error instead."""

    def __init__(self, loop):
        self._real = selectors.DefaultSelector()
        self._loop = loop

    def select(self, timeout=None):
        ready = self._real.select(0)
        if ready or timeout == 0:
            return ready
        if timeout is None:
            raise RuntimeError("deadlock: nothing to do and no timer pending")
        self._loop.now += timeout
        return []

    def __getattr__(self, name):
        return getattr(self._real, name)


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    def __init__(self):
        self.now = 0.0
        super().__init__(_Selector(self))

    def time(self):
        return self.now


def run_virtual(coro):
    loop = VirtualTimeLoop()
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
