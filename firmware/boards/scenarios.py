# Scripted mornings for the virtual belt: what the runner's muscles do and what the runner (and the
# companion, for calibration) does, on a timeline in seconds. And a person who follows the belt
# instead of a script (Responsive), for when a companion drives it (main.py --serial).
#
# A scenario is (segments, events, end_s):
#   segments  [(start_s, effort_pct, contact)]  effort from start_s until the next segment;
#             contact False means the electrodes are off (the input rails)
#   events    [(t_s, action, arg)]  action: "press" (arg "short" or "long"), "cal" (arg "rest",
#             "brace" or "pause"), "commit" (calibration)
# or a person object: effort(app, ms, motor) -> (effort_pct, contact), end_s (None: no end).
# Every phase timing follows the physio's routine: calibrate at home, side planks and bird dog
# right before running (three 30 s holds), prime the brace, run, lie down for ten minutes.
from belt.calibration import PH_BRACE
from belt.runflow import State

_COOLDOWN = State.COOLDOWN


def _calibration(t):
    seg = [(t, 0, True)]
    ev = [(t, "cal", "rest")]
    t += 10
    for i in range(3):
        seg.append((t, 100, True))
        ev.append((t, "cal", "brace"))
        t += 5
        seg.append((t, 0, True))
        if i < 2:
            ev.append((t, "cal", "pause"))
            t += 10
    ev.append((t, "commit", None))
    return seg, ev, t + 5


# (fraction of the run, effort %, electrodes on) of each lapse; each lasts a minute (a tenth of
# a run shorter than ten minutes), then the runner is back at 20 %.
LAPSES = ((0.2, 8, True), (0.4, 45, True), (0.6, 0, False))


def morning(run_min=30):
    """Calibrate, warm up, run run_min minutes with scripted lapses, lie down 10 minutes.
    The run's lapses scale with its length: a fade under the band at 20 % of the run, an
    over-brace at 40 %, the electrodes off at 60 %."""
    seg, ev, t = _calibration(0)
    ev.append((t, "press", "short"))          # start the warm-up: three 30 s holds
    seg.append((t, 30, True))
    t += 95
    seg.append((t, 5, True))
    ev.append((t, "press", "short"))          # at the start line: prime
    t += 2
    seg.append((t, 20, True))                 # the brace that passes prime
    run0 = t + 3
    run_s = run_min * 60
    lapse_s = min(60, run_s // 10)
    for frac, effort, contact in LAPSES:
        start = run0 + int(run_s * frac)
        seg.append((start, effort, contact))
        seg.append((start + lapse_s, 20, True))
    t = run0 + run_s
    ev.append((t, "press", "long"))           # finish: lie down
    seg.append((t, 0, True))
    t += 600 + 10
    seg.sort()
    return seg, ev, t


def calibrate_only():
    seg, ev, t = _calibration(0)
    return seg, ev, t


class Responsive:
    """A person who follows the belt. During a calibration they relax in the rest and pause
    phases and brace fully (95..100 %) in the brace phases, after a reaction time. While a
    session is open (a run, or logging started over the protocol), or while they practise watching
    the companion's live view, they hold about 20 % with a mild
    wander (and let go while lying down after a run), and every few minutes let it fade to 8 %
    until the belt's buzz reminds them (or 20 s pass). Otherwise they sit at about 3 %. Integers and its own generator only, so MicroPython
    and CPython make the same person."""

    REACT_MS = 400
    IDLE_PCT = 3
    HOLD_PCT = 20
    DIP_PCT = 8
    DIP_MAX_MS = 20000

    def __init__(self, end_s=None, seed=12345):
        self.end_s = end_s          # None: until the process is stopped
        self._s = seed
        self._phase = -1
        self._phase_at = 0
        self._was = self.IDLE_PCT   # effort before the latest phase change
        self._brace = 100
        self._wander = 0
        self._wander_at = 0
        self._dip_until = -1
        self._next_dip = 0
        self._session = -1

    def _rand(self, n):
        self._s = (self._s * 1103515245 + 12345) & 0x3FFFFFFF
        return (self._s >> 8) % n

    def effort(self, app, ms, motor):
        """(effort %, electrodes on) now; motor: the belt's motor level (what the person feels)."""
        if app.calibrating and app.calibrator.active:
            ph = app.calibrator.phase
            if ph != self._phase:
                self._was = self._target(self._phase)
                self._phase = ph
                self._phase_at = ms
                self._brace = 95 + self._rand(6)
            if ms - self._phase_at < self.REACT_MS:
                return self._was, True
            return self._target(ph), True
        self._phase = -1
        if app.flow.state == _COOLDOWN or not (app.writer or app.live_views):
            return self.IDLE_PCT, True      # resting, or lying down after the run
        key = app.session_id if app.writer else -2  # -2: practising with the live view
        if key != self._session:                    # a new session: the first lapse waits
            self._session = key
            self._next_dip = ms + 120000 + self._rand(120000)
        if ms >= self._wander_at:
            self._wander_at = ms + 1000
            w = self._wander + self._rand(3) - 1
            self._wander = w if -2 <= w <= 2 else self._wander
        if self._dip_until < 0 and ms >= self._next_dip:
            self._dip_until = ms + self.DIP_MAX_MS
        if self._dip_until >= 0:
            if motor and self._dip_until > ms + 1000:
                self._dip_until = ms + 1000         # felt the cue: back to the brace
            if ms < self._dip_until:
                return self.DIP_PCT, True
            self._dip_until = -1
            self._next_dip = ms + 120000 + self._rand(120000)
        return self.HOLD_PCT + self._wander, True

    def _target(self, phase):
        if phase == PH_BRACE:
            return self._brace
        return 0 if phase >= 0 else self.IDLE_PCT


SCENARIOS = {"morning": morning, "calibrate": calibrate_only, "responsive": Responsive}


def get(name, run_min=None):
    """A scenario by name. run_min: the morning's run (default 30 minutes); for responsive, when
    the belt stops (default never)."""
    if name not in SCENARIOS:
        raise ValueError("unknown scenario %s (have: %s)" % (name, ", ".join(sorted(SCENARIOS))))
    if name == "morning":
        return morning(run_min or 30)
    if name == "responsive":
        return Responsive(run_min * 60 if run_min else None)
    return SCENARIOS[name]()
