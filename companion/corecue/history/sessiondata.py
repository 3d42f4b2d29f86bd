"""A session file from the belt as numpy arrays, ready for analysis (corecue.history.analytics).

The bytes are decoded by the firmware's own reader (belt.sessionread.read_session): the format
has one definition, on the belt (docs/session-format.md). This module only turns the reader's
lists into arrays and units a person reads: effort in %MVC (NaN where the belt had no effort
value), the run-flow state of every frame, the band in %MVC, times in seconds.

    sd = decode(raw_bytes, device="a1b2c3")      # or read_file("run3.cs")
    sd.effort, sd.quality, sd.state              # one entry per 100 ms frame
    sd.times_s(), sd.cues(), sd.duration_s
    sd.signal_frame, sd.fatigue, sd.cadence      # one entry per signal pair (every 10 s)

A file that is still open, or that was cut by a power failure, decodes up to its last whole
block; `status` says which ("closed", "open", "torn").
"""
from dataclasses import dataclass, field

import numpy as np

from corecue.interp import firmware_module

_fmt = firmware_module("belt.sessionformat")
_read = firmware_module("belt.sessionread")
_effort = firmware_module("belt.effort")
_runflow = firmware_module("belt.runflow")

State = _runflow.State          # IDLE 0, WARMUP 1, PRIME 2, RUN 3, COOLDOWN 4, DONE 5

# Names by event kind, for people and for JSON keys; the numbers are the session format's.
CUE_NAMES = {_fmt.EV_CUE_UNDER: "under", _fmt.EV_CUE_OVER: "over",
             _fmt.EV_BACK_IN_BAND: "back", _fmt.EV_CHECK_SENSOR: "check_sensor"}
EVENT_NAMES = {**CUE_NAMES, _fmt.EV_STATE: "state", _fmt.EV_BUTTON: "button",
               _fmt.EV_MARK: "mark", _fmt.EV_BOOT: "boot", _fmt.EV_BATTERY: "battery"}
_bat = firmware_module("belt.battery")
BATTERY_WORDS = {_bat.FULL: "full", _bat.OK: "ok", _bat.LOW: "low", _bat.CRITICAL: "critical",
                 _bat.EMPTY: "empty"}


def battery_word(code):
    """belt.battery's level code as the word the runner reads; None when the belt had none."""
    return BATTERY_WORDS.get(code)
STATE_NAMES = {State.IDLE: "idle", State.WARMUP: "warmup", State.PRIME: "prime",
               State.RUN: "run", State.COOLDOWN: "cooldown", State.DONE: "done"}


class SessionFileError(Exception):
    """A file that is not a readable session; the message is one line for the command line."""


@dataclass
class SessionData:
    session_id: int
    device: str                  # the belt's hex id, as the caller knows it
    start_utc: float | None      # unix seconds of the first frame, None when unknown
    frame_ms: int
    effort: np.ndarray           # float32 %MVC per frame, NaN where the belt had no effort
    quality: np.ndarray          # uint8 quality flags per frame (belt.effort Q_*), 0 = clean
    events: list                 # [(frame index, kind, arg)]: the event came before that frame
    state: np.ndarray            # uint8 run-flow state per frame (State), from the state events
    band: tuple                  # (low, target, high) %MVC, as prescribed when the run started
    calibration: tuple           # (rest, mvc) in the sensor's raw units
    mode: str                    # sensor mode name (belt.effort MODE_NAMES)
    placement: int               # electrode placement code (hardware/electrodes.md), 0 unknown
    status: str                  # "closed", "open" or "torn"
    trailer: dict | None         # the belt's own summary, when the file was closed
    header: dict = field(repr=False, default_factory=dict)
    # The chain's slow figures, logged every 10 s (format version 2; none in older files): the
    # frame each pair was taken with, the fatigue index (mean |first difference| over amplitude,
    # docs/signal.md; NaN before the chain had one) and the cadence (steps/min, NaN before a
    # step rhythm was found).
    signal_frame: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, np.int64))
    fatigue: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    cadence: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def frames(self):
        return len(self.effort)

    @property
    def duration_s(self):
        """Frames times the frame period: the time the file covers."""
        return self.frames * self.frame_ms / 1000.0

    @property
    def has_states(self):
        """False for a session started by command and never moved through the run flow."""
        return any(k == _fmt.EV_STATE for _, k, _a in self.events)

    @property
    def band_pm(self):
        """The band as the belt stores it, 0.1 %MVC integers."""
        h = self.header
        return (h["band_low"], h["band_target"], h["band_high"])

    def times_s(self):
        """Seconds from the session's start, one per frame (frame i at i x frame period)."""
        return np.arange(self.frames, dtype=np.float64) * (self.frame_ms / 1000.0)

    def event_time_s(self, index):
        """An event at frame index i came after i frames: i x frame period from the start."""
        return index * self.frame_ms / 1000.0

    def cues(self):
        """[(t_s, name, level)] for every cue the belt gave (under, over, back, check_sensor)."""
        return [(self.event_time_s(i), CUE_NAMES[k], a) for i, k, a in self.events
                if k in CUE_NAMES]

    def states(self):
        """[(t_s, state name)] for every run-flow state change."""
        return [(self.event_time_s(i), STATE_NAMES.get(a, "state %d" % a))
                for i, k, a in self.events if k == _fmt.EV_STATE]

    def battery(self):
        """[(frame, level word or None, mV)] from the battery events: the first at the start,
        then each change of level (files from before these events have none)."""
        out = []
        for i, k, a in self.events:
            if k == _fmt.EV_BATTERY:
                code, mv = _fmt.battery_of_arg(a)
                out.append((i, battery_word(code), mv))
        return out


# The one state each state is entered from (belt/runflow.py); IDLE is entered from several.
_ENTERED_FROM = {State.WARMUP: State.IDLE, State.PRIME: State.WARMUP, State.RUN: State.PRIME,
                 State.COOLDOWN: State.RUN, State.DONE: State.COOLDOWN}


def state_per_frame(events, frames):
    """The run-flow state of every frame: the argument of the last state event at or before it
    (an event at index i precedes frame i). A session the run flow opens starts with its first
    state event; one started by command logs frames before any state change, in the state the
    first change leaves (a session opened mid-run and ended by a long press: RUN, then
    COOLDOWN), else IDLE."""
    ev = [(i, a) for i, k, a in events if k == _fmt.EV_STATE]
    if not ev:
        return np.full(frames, State.IDLE, dtype=np.uint8)
    idx = np.array([i for i, _ in ev], dtype=np.int64)
    arg = np.array([min(a, 255) for _, a in ev], dtype=np.uint8)
    j = np.searchsorted(idx, np.arange(frames), side="right") - 1
    first = _ENTERED_FROM.get(ev[0][1], State.IDLE)
    return np.where(j >= 0, arg[np.maximum(j, 0)], first).astype(np.uint8)


def decode(raw, device="", start_utc=None):
    """SessionData from the bytes of a session file. start_utc defaults to the header's wall time
    (None when the belt did not know the time). Raises SessionFileError if it is no session."""
    signal = []
    header, frames, events, trailer, status = _read.read_session(bytes(raw), signal)
    if status == _fmt.SHORT:
        raise SessionFileError("not a session file: %d bytes, shorter than a session header"
                               % len(raw))
    if status == _fmt.BAD_HEADER:
        raw = bytes(raw)
        if raw[:4] == _fmt.MAGIC and raw[4] > _fmt.VERSION:
            # Newer firmware's session: the belt keeps it until a companion that reads it
            # stores it, so the way out is an update, not a lost run.
            raise SessionFileError("session format version %d is newer than this companion "
                                   "reads (up to %d): update corecue" % (raw[4], _fmt.VERSION))
        raise SessionFileError("not a session file: no valid session header "
                               "(magic, version, frame period, block size or CRC)")
    fr = np.array(frames, dtype=np.int32).reshape(-1, 2)
    pm = fr[:, 0]
    effort = np.where(pm < 0, np.nan, pm / 10.0).astype(np.float32)
    if start_utc is None and header["wall_time"]:
        start_utc = float(header["wall_time"])
    m = header["mode"]
    names = _effort.MODE_NAMES
    sig = np.array(signal, dtype=np.float64).reshape(-1, 3)
    return SessionData(
        session_id=header["session_id"], device=device, start_utc=start_utc,
        frame_ms=header["frame_ms"], effort=effort, quality=fr[:, 1].astype(np.uint8),
        events=[tuple(e) for e in events], state=state_per_frame(events, len(fr)),
        band=(header["band_low"] / 10.0, header["band_target"] / 10.0,
              header["band_high"] / 10.0),
        calibration=(header["cal_rest"], header["cal_mvc"]),
        mode=names[m] if m < len(names) else "mode %d" % m, placement=header["placement"],
        status=status, trailer=trailer, header=dict(header),
        signal_frame=sig[:, 0].astype(np.int64),
        fatigue=np.where(sig[:, 1] > 0, sig[:, 1] / 256.0, np.nan),
        cadence=np.where(sig[:, 2] > 0, sig[:, 2], np.nan))


def read_file(path, device="", start_utc=None):
    """decode() for a session file on disk; an unreadable file is a one-line SessionFileError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        from corecue.link.oserrors import sentence
        raise SessionFileError(sentence(e, path, "read")) from None
    try:
        return decode(raw, device, start_utc)
    except SessionFileError as e:
        raise SessionFileError("%s: %s" % (path, e)) from None
