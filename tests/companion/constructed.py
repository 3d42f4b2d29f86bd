"""Runs with known answers, put on a virtual belt's flash by the firmware's own writer and
storage, so that a test can sync them with `corecue --virtual DIR sync` and read every view.

    put_runs(folder, [script, ...], walls=[unix s, ...])   -> {belt session id: file bytes}

A script is what test_sessiondata.session_bytes takes: ("f", effort_pm, quality, n) for n frames,
("e", kind, arg) for an event, ("s", state) for a state change. KNOWN is a run whose every figure
is worked out by hand below (band 15-30 %MVC, 100 ms frames).
"""
from corecue.interp import firmware_module

_log = firmware_module("belt.sessionlog")
_storage = firmware_module("belt.storage")
_runflow = firmware_module("belt.runflow")
_sim = firmware_module("boards.sim")
_scen = firmware_module("boards.scenarios")

State = _runflow.State
UNDER, OVER, BACK, CHECK = 1, 2, 3, 4
EV_STATE, EV_BOOT = _log.EV_STATE, _log.EV_BOOT
BAND = (150, 200, 300)
WALL = 1767258000           # 2026-01-01 09:00 UTC


def around(run, warmup=300, cooldown=200):
    """A whole run flow around `run`: warm-up at 5 %, prime at 20 %, the run, lie-down, done."""
    return ([("s", State.WARMUP), ("f", 50, 0, warmup), ("s", State.PRIME), ("f", 200, 0, 30),
             ("s", State.RUN)] + list(run)
            + [("s", State.COOLDOWN), ("f", 20, 0, cooldown), ("s", State.DONE)])


# The known run (band 15-30 %):
#   5:00 at 25 % (in band), 1 s of lost contact, 1:00 at 10 % with two brace-more cues and a
#   back-in-band, 2:00 at 25 %, 1:00 at 40 % with an ease-off and a back, one check-sensor.
KNOWN_RUN = [("f", 250, 0, 3000), ("e", CHECK, 1), ("f", 0, 1, 10),
             ("e", UNDER, 1), ("f", 100, 0, 300), ("e", UNDER, 2), ("f", 100, 0, 300),
             ("e", BACK, 1), ("f", 250, 0, 1200),
             ("e", OVER, 1), ("f", 400, 0, 600), ("e", BACK, 1)]
KNOWN = around(KNOWN_RUN)
KNOWN_FIGURES = {
    "duration_s": 594.0,        # 300 + 30 + 5410 + 200 frames
    "run_s": 541.0,
    "judged_s": 540.0,
    "in_band_s": 420.0, "under_s": 60.0, "over_s": 60.0,
    "pct_in_band": 100 * 4200 / 5400,                   # 77.8
    "flagged_s": 1.0, "uncalibrated_s": 0.0, "excluded_s": 1.0,
    "longest_in_band_s": 300.0,
    "mean_effort": 25.0,
    "fade_onset_min": None,
    "cues": {"under": 2, "over": 1, "back": 2, "check_sensor": 1}, "cues_total": 6,
    # thirds of the run's 5410 frames: the first 1803 all in band; the last 1803 are 3 under,
    # 1200 in, 600 over
    "first_third_pct": 100.0, "last_third_pct": 100 * 1200 / 1803,
}


def put_runs(folder, scripts, walls=None):
    """Closed sessions on the virtual belt in `folder` (its flash made if new), one per script,
    with wall start times `walls` (default WALL, a day apart)."""
    board = _sim.Board(folder, _scen.Responsive())      # mounts the flash; never started
    store = _storage.Storage(board.root + "/sessions")
    out = {}
    for k, script in enumerate(scripts):
        wall = walls[k] if walls else WALL + 86400 * k
        sid, path = store.new_session()
        w = _log.SessionWriter(path, sid, 1000 * sid, wall_time=wall, mode=0, cal_rest=310,
                               cal_mvc=4120, placement=1, band=BAND)
        w.add_event(EV_BOOT, 2)
        frames = 0
        for op in script:
            if op[0] == "f":
                for _ in range(op[3]):
                    w.add_frame(op[1], op[2], *op[4:6])
                frames += op[3]
            elif op[0] == "e":
                w.add_event(op[1], op[2])
            else:
                w.add_event(EV_STATE, op[1])
        w.close(1000 * sid + frames * 100)
        store.closed(sid)
        with open(path, "rb") as f:
            out[sid] = f.read()
    return out
