"""corecue.history.sessiondata: session files written by the firmware's own SessionWriter, decoded
into arrays. test_analytics.py builds its sessions with session_bytes() from here."""
import io

import numpy as np
import pytest

from corecue.interp import firmware_module
from corecue.history.sessiondata import SessionFileError, State, decode, read_file

_log = firmware_module("belt.sessionlog")
EV_CUE_UNDER, EV_CUE_OVER, EV_BACK, EV_CHECK = 1, 2, 3, 4
EV_STATE, EV_MARK, EV_BOOT = _log.EV_STATE, _log.EV_MARK, _log.EV_BOOT
WALL = 1767225600
BAND = (150, 200, 300)


def session_bytes(script, wall=WALL, band=BAND, sid=7, mode=1, placement=3, close=True):
    """A session file's bytes from the firmware's writer. script: ("f", effort_pm, quality, n)
    for n frames (with ("f", effort_pm, quality, n, fatigue_q8, cadence): the chain's slow
    figures as the belt logs them), ("e", kind, arg) for an event, ("s", state) for a state
    change."""
    buf = io.BytesIO()
    w = _log.SessionWriter(buf, sid, 5000, wall_time=wall, mode=mode, cal_rest=310,
                           cal_mvc=4120, placement=placement, band=band)
    w.add_event(EV_BOOT, 2)
    w.flush()
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
    if close:
        w.close(5000 + frames * 100)
    return buf.getvalue()


def run_script(run, warmup_frames=300, cooldown_frames=200):
    """A whole run flow around `run` (a script): warm-up, prime, the run, cool-down, done."""
    return ([("s", State.WARMUP), ("f", 50, 0, warmup_frames), ("s", State.PRIME),
             ("f", 200, 0, 30), ("s", State.RUN)] + list(run)
            + [("s", State.COOLDOWN), ("f", 20, 0, cooldown_frames), ("s", State.DONE)])


def test_frames_units_and_header_fields():
    raw = session_bytes([("f", 200, 0, 3), ("f", -1, 0, 2), ("f", 253, 4, 1),
                         ("e", EV_CUE_OVER, 2), ("f", 0, 1, 1)])
    sd = decode(raw, device="a1b2")
    assert sd.status == "closed" and sd.trailer["frames"] == 7
    assert sd.frames == 7 and sd.effort.dtype == np.float32 and sd.quality.dtype == np.uint8
    # Stored at 0.5 %MVC: 253 per mille comes back as 25.5 %MVC; -1 as NaN.
    np.testing.assert_array_equal(sd.effort, np.float32([20, 20, 20, np.nan, np.nan, 25.5, 0]))
    np.testing.assert_array_equal(sd.quality, [0, 0, 0, 0, 0, 4, 1])
    assert sd.events == [(0, EV_BOOT, 2), (6, EV_CUE_OVER, 2)]
    assert (sd.session_id, sd.device, sd.frame_ms) == (7, "a1b2", 100)
    assert sd.start_utc == WALL and sd.duration_s == pytest.approx(0.7)
    assert sd.band == (15.0, 20.0, 30.0) and sd.band_pm == BAND
    assert sd.calibration == (310, 4120) and sd.mode == "emg_env" and sd.placement == 3
    np.testing.assert_allclose(sd.times_s(), np.arange(7) * 0.1)
    assert sd.cues() == [(pytest.approx(0.6), "over", 2)]


def test_start_time_from_header_or_caller():
    assert decode(session_bytes([("f", 200, 0, 1)], wall=0)).start_utc is None
    assert decode(session_bytes([("f", 200, 0, 1)], wall=0), start_utc=123.5).start_utc == 123.5
    assert decode(session_bytes([("f", 200, 0, 1)]), start_utc=99.0).start_utc == 99.0


def test_state_of_every_frame_follows_the_state_events():
    sd = decode(session_bytes(run_script([("f", 250, 0, 40)], 20, 10)))
    # frames: 20 warm-up, 30 prime, 40 run, 10 cool-down; an event precedes the frame it names
    expect = [State.WARMUP] * 20 + [State.PRIME] * 30 + [State.RUN] * 40 + [State.COOLDOWN] * 10
    np.testing.assert_array_equal(sd.state, expect)
    assert sd.has_states
    assert [n for _, n in sd.states()] == ["warmup", "prime", "run", "cooldown", "done"]
    assert sd.states()[2][0] == pytest.approx(5.0)


def test_frames_before_the_first_state_event_are_in_the_state_it_leaves():
    """A session started by command mid-run, ended by a long press: RUN, then COOLDOWN."""
    sd = decode(session_bytes([("f", 250, 0, 30), ("s", State.COOLDOWN), ("f", 20, 0, 5)]))
    np.testing.assert_array_equal(sd.state, [State.RUN] * 30 + [State.COOLDOWN] * 5)
    sd = decode(session_bytes([("f", 250, 0, 4), ("s", State.IDLE), ("f", 20, 0, 1)]))
    np.testing.assert_array_equal(sd.state, [State.IDLE] * 5)   # entered from several


def test_without_state_events_every_frame_is_idle_and_says_so():
    sd = decode(session_bytes([("f", 250, 0, 12)]))
    assert not sd.has_states and (sd.state == State.IDLE).all() and len(sd.state) == 12


def test_open_and_torn_files_decode_their_whole_blocks():
    script = [("f", 200 + (i % 3) * 5, 0, 1) for i in range(250)] + [("e", EV_CUE_UNDER, 1)]
    raw = session_bytes(script)
    whole = decode(raw)
    assert whole.status == "closed" and whole.frames == 250
    opened = decode(raw[:-54])                  # the trailer is gone: still being written
    assert opened.status == "open" and opened.trailer is None and opened.frames == 250
    np.testing.assert_array_equal(opened.effort, whole.effort)
    torn = decode(raw[:-54 - 3])                # and the last block (50 frames, the cue) torn
    assert torn.status == "torn" and torn.frames == 200
    np.testing.assert_array_equal(torn.effort, whole.effort[:200])
    assert torn.cues() == [] and whole.cues()[0][1] == "under"


def test_a_file_that_is_not_a_session_is_a_one_line_error(tmp_path):
    with pytest.raises(SessionFileError, match="shorter than a session header") as e:
        decode(b"CQSL\x01")
    assert "\n" not in str(e.value)
    raw = bytearray(session_bytes([("f", 200, 0, 5)]))
    raw[9] ^= 1                                 # the header CRC no longer matches
    with pytest.raises(SessionFileError, match="no valid session header"):
        decode(bytes(raw))
    with pytest.raises(SessionFileError, match="no valid session header"):
        decode(b"id,t_ms,effort\n" * 10)


def test_a_header_with_frame_period_0_is_refused_in_one_line():
    # Its CRC is good, so it passed for a session, and every duration divided by zero.
    import struct
    import zlib
    raw = bytearray(session_bytes([("f", 200, 0, 50)]))
    raw[6] = 0                                  # the frame period (docs/session-format.md)
    struct.pack_into("<I", raw, 36, zlib.crc32(bytes(raw[:36])))
    with pytest.raises(SessionFileError, match="frame period") as e:
        decode(bytes(raw))
    assert "\n" not in str(e.value)


def test_read_file_reads_and_names_the_file_in_errors(tmp_path):
    p = tmp_path / "run3.cs"
    p.write_bytes(session_bytes([("f", 200, 0, 15)]))
    assert read_file(str(p), device="ff").frames == 15
    for bad, why in ((tmp_path / "missing.cs", "there is no such file"),
                     (tmp_path, "it is a folder")):
        with pytest.raises(SessionFileError, match=why) as e:
            read_file(str(bad))
        assert str(bad) in str(e.value) and "\n" not in str(e.value)
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"x" * 100)
    with pytest.raises(SessionFileError, match="notes.txt: not a session file"):
        read_file(str(junk))


def test_the_battery_events_give_the_level_at_the_start_and_at_each_change():
    fmt = firmware_module("belt.sessionformat")
    bat = firmware_module("belt.battery")
    raw = session_bytes([("e", fmt.EV_BATTERY, fmt.battery_arg(bat.FULL, 4150)),
                         ("f", 200, 0, 600),
                         ("e", fmt.EV_BATTERY, fmt.battery_arg(bat.EMPTY, 3380)),
                         ("f", 200, 0, 1)])
    sd = decode(raw)
    assert sd.battery() == [(0, "full", 4150), (600, "empty", 3380)]
    from corecue.views.tables import _battery
    assert _battery(sd) == "full (4.15 V) at the start; empty (3.38 V) at 1:00"
    assert decode(session_bytes([("f", 200, 0, 3)])).battery() == [], "older files: none"


def test_the_json_export_names_the_battery_events():
    from corecue.views.export import session_object
    fmt = firmware_module("belt.sessionformat")
    raw = session_bytes([("e", fmt.EV_BATTERY, fmt.battery_arg(1, 3790)), ("f", 200, 0, 5)])
    events = session_object(None, decode(raw, device="a1b2"))["events"]
    bat = [e for e in events if e["kind"] == "battery"]
    assert [(e["battery"], e["battery_mv"]) for e in bat] == [("low", 3790)]
