"""What the belt says, as records: one dataclass per reply or event of docs/protocol.md.

Field names for the formats in belt.protocol; each record checks that the count matches the
format it is decoded from (`_record`), so a change of the message table cannot go unnoticed.
Kept apart from corecue.link.client so the protocol's vocabulary can be read, and used by the
commands that show it, without the request machinery.
"""
from dataclasses import dataclass, field, fields as dc_fields

from corecue.interp import firmware_module
from corecue.link.errors import BadReply

P = firmware_module("belt.protocol")


def _record(cls, values, tail_field=None, tail=b""):
    names = [f.name for f in dc_fields(cls)]
    if tail_field:
        names.remove(tail_field)
    if len(values) != len(names):
        raise BadReply(f"{cls.__name__.lower()}: {len(values)} fields, expected {len(names)}")
    kw = dict(zip(names, values))
    if tail_field:
        kw[tail_field] = tail
    return cls(**kw)


@dataclass
class Hello:
    version: int
    oldest_companion: int
    capabilities: int
    device_id: bytes
    max_payload: int
    firmware: str

    @property
    def device(self):
        return self.device_id.hex()

    def capability_names(self):
        names = [("usb", P.CAP_USB), ("ble", P.CAP_BLE), ("live", P.CAP_LIVE),
                 ("auth", P.CAP_AUTH)]
        return [n for n, bit in names if self.capabilities & bit]


@dataclass
class Status:
    state: int
    sensor_mode: int
    battery_mv: int
    flash_used: int
    flash_free: int
    frames: int
    late: int
    missed: int
    overruns: int
    restarts: int
    calibrated: int
    calibrating: int
    live: int
    open_session: int
    battery_level: int      # belt.battery's code: ok, low, critical, empty, full; 255 unknown
    data_area: int          # belt.dataarea's code: as it was, formatted anew at this boot, shared,
                            # new (blank at this boot, formatted)

    def data_area_words(self):
        """(name, what it means) of the data area code: what the belt's mount found at boot."""
        D = firmware_module("belt.dataarea")
        return {D.AS_IS: ("as_is", "its own, mounted as it was"),
                D.FORMATTED: ("formatted", "formatted anew at this boot: it could not be read, "
                              "so the runs and settings on it are gone (docs/reliability.md)"),
                D.SHARED: ("shared", "shared with the firmware's files: no data partition of "
                           "its own (docs/reliability.md)"),
                D.NEW: ("new", "its own, new: it was blank at this boot and was formatted; "
                        "nothing was on it")}.get(
            self.data_area, (str(self.data_area), f"unknown ({self.data_area})"))


@dataclass
class TimeAnchor:
    boot_id: int
    ticks_ms: int
    unix: int


@dataclass
class Calibration:
    op: int
    phase: int
    level: int
    frames: int
    rest: int
    mvc: int
    spread_pm: int
    reasons: int
    adopted: int
    trials: tuple

    @property
    def ok(self):
        return self.reasons == 0


@dataclass
class Session:
    id: int
    start_ticks: int
    wall: int
    duration_ms: int
    size: int
    crc: int
    flags: int
    boot_id: int

    @property
    def synced(self):
        return bool(self.flags & P.FL_SYNCED)

    @property
    def open(self):
        return bool(self.flags & P.FL_OPEN)


@dataclass
class Effort:
    frame: int
    effort_pm: int
    quality: int
    state: int
    level: int


@dataclass
class Data:
    session: int
    offset: int
    data: bytes


@dataclass
class Cue:
    kind: int
    level: int



@dataclass
class DownloadStats:
    """What a download cost: chunks received, acks sent and the offset each acknowledged,
    re-reads after a lost chunk, chunks ignored (duplicates, or sent after a lost one)."""
    size: int = 0
    window: int = 0
    chunk: int = 0
    chunks: int = 0
    acks: int = 0
    acked: list = field(default_factory=list)
    rereads: int = 0
    ignored: int = 0

    start: int = 0

    def gating_acks(self):
        """Acks the belt had to wait for before it could send more: those that opened the window
        onto data the previous limit held back. The download's round trips after the read:
        about 2 x chunks / window, none when the whole file fits in one window."""
        limits = [self.start] + self.acked[:-1]
        return sum(1 for a in limits[:len(self.acked)] if a + self.window * self.chunk < self.size)
