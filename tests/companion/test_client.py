"""The transport-neutral client against the belt's own firmware, run in this process on the sim
board (realbelt.RealBelt), in the board's virtual time: request ids, events, timeouts, refusals,
version checks, paging, windowed downloads and their recovery. Lost, late, reordered and damaged
packets are made by the link between them, never by the belt."""
import asyncio
import zlib

import pytest

import realbelt as R
from realbelt import P
from corecue.link import client as C


def with_belt(belt, body, timeout=3.0):
    async def go():
        client = C.Belt(belt, timeout=timeout)
        await client.hello()
        return await body(client)
    return R.run_belt(belt, go)


async def _ret(v):
    return v


def test_hello_reads_the_belt_and_its_capabilities(tmp_path):
    belt = R.RealBelt(tmp_path)
    info = with_belt(belt, lambda b: _ret(b.info))
    assert info.version == P.VERSION and info.oldest_companion == P.MIN_COMPATIBLE
    assert info.firmware == R.FIRMWARE_VERSION and info.max_payload == P.MAX_PAYLOAD
    assert info.device == belt.board.device_id().hex() and len(info.device) == 16
    assert info.capability_names() == ["usb", "live"]
    assert belt.seen.requests[0][:1] == ("hello",)


class _Speaks:
    """The companion's protocol module as a companion of another version would have it."""

    def __init__(self, real, **over):
        self._real, self._over = real, over

    def __getattr__(self, name):
        return self._over[name] if name in self._over else getattr(self._real, name)


@pytest.mark.parametrize("companion, oldest_belt, words", [
    (P.MIN_COMPATIBLE - 1, 1, "companion %d (accepts belts from 1)" % (P.MIN_COMPATIBLE - 1)),
    (P.VERSION, P.VERSION + 1, "accepts belts from %d), belt %d" % (P.VERSION + 1, P.VERSION)),
])
def test_the_belt_refuses_an_incompatible_companion_with_advice(tmp_path, monkeypatch, companion,
                                                                 oldest_belt, words):
    belt = R.RealBelt(tmp_path)

    async def body():
        with monkeypatch.context() as m:
            m.setattr(C, "P", _Speaks(P, VERSION=companion))
            m.setattr(C, "OLDEST_BELT", oldest_belt)
            client = C.Belt(belt)
            with pytest.raises(C.IncompatibleBelt) as e:
                await client.hello()
        # The refusal changed nothing: a compatible companion is served on the same link.
        info = await C.Belt(belt).hello()
        return e.value, info
    err, info = R.run_belt(belt, body)
    assert belt.seen.requests[0][2] == (companion, oldest_belt)
    assert words in str(err), str(err)
    assert str(err).endswith("update corecue or the belt's firmware")
    assert "\n" not in str(err)
    assert info.version == P.VERSION


def test_replies_are_matched_by_request_id_not_by_order(tmp_path):
    belt = R.RealBelt(tmp_path)
    # The link holds back the status reply until config_get's has gone through.
    belt.hold(R.is_reply("status"), until=R.is_reply("config_get"))

    async def body(client):
        st, cfg = await asyncio.gather(client.status(), client.config_get())
        return st, cfg, belt.seen.names()[-2:], client.unmatched
    st, cfg, order, unmatched = with_belt(belt, body)
    assert order == ["status", "config_get"]
    assert st.battery_mv == 3900 and st.flash_used > 0 and st.live == 0
    assert cfg["target_pm"] == 200 and unmatched == 0


def test_events_reach_subscribers_while_requests_are_in_flight(tmp_path):
    belt = R.RealBelt(tmp_path)

    async def body(client):
        seen = []
        stop = client.subscribe("effort", seen.append)
        await client.live(True)
        await asyncio.sleep(1.0)
        st = await client.status()
        stop()
        n = len(seen)
        await asyncio.sleep(1.0)
        after = await client.status()
        return seen, n, st, after
    seen, n, st, after = with_belt(belt, body)
    frames = [e.frame for e in seen]
    assert 9 <= len(frames) <= 12, frames            # 10 frames a second
    assert frames == list(range(frames[0], frames[0] + len(frames)))
    assert all(e.effort_pm == -1 and e.level > 0 for e in seen)     # uncalibrated
    assert st.live == 1 and frames[-1] <= st.frames
    assert len(seen) == n and after.frames >= st.frames + 9       # unsubscribed: no more


def test_a_silent_belt_times_out_with_a_clear_error_and_the_client_recovers(tmp_path):
    belt = R.RealBelt(tmp_path)
    belt.hold(R.is_reply("status"))

    async def body(client):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(C.BeltTimeout) as e:
            await client.status()
        waited = loop.time() - t0
        # The belt's answer arrives late: counted, not mistaken for a reply to what follows.
        belt.release()
        cfg = await client.config_get()
        return str(e.value), waited, cfg, client.unmatched
    msg, waited, cfg, unmatched = with_belt(belt, body, timeout=2.5)
    assert msg == "the belt did not answer status within 2.5 s"
    assert waited == pytest.approx(2.5, abs=0.03)
    assert cfg["low_pm"] == 150 and unmatched == 1


def test_a_refused_value_names_the_field_and_changes_nothing(tmp_path):
    belt = R.RealBelt(tmp_path)

    async def body(client):
        new = await client.config_set({"target_pm": 220})
        with pytest.raises(C.InvalidValue) as e:
            await client.config_set({"low_pm": 100, "high_pm": 5000})
        return new, e.value, await client.config_get()
    new, err, after = with_belt(belt, body)
    assert new["target_pm"] == 220
    assert err.code == P.E_INVALID and err.reason == "invalid"
    assert str(err) == "belt refused config_set: high_pm: 5000 above maximum 2000"
    assert (after["target_pm"], after["low_pm"], after["high_pm"]) == (220, 150, 300)
    assert after == new
    assert belt.app.config.low_pm == 150            # and not on the belt either


def test_sessions_pages_through_the_list(tmp_path):
    gone = (4, 6, 7, 40)
    belt = R.RealBelt(tmp_path, sessions=[5 + i for i in range(80)], remove=gone)
    got = with_belt(belt, lambda b: b.sessions())
    ids = [i for i in range(1, 81) if i not in gone]
    assert [s.id for s in got] == ids
    assert [s.size for s in got] == [len(belt.files[i]) for i in ids]
    assert [s.crc for s in got] == [zlib.crc32(belt.files[i]) for i in ids]
    assert [s.start_ticks for s in got] == [1000 * i for i in ids]
    # 76 entries of 27 bytes, 37 to a packet: pages of 37, 37 and 2, then an empty one.
    assert belt.seen.names().count("session_list") == 4
    assert [f[0] for n, _, f in belt.seen.requests if n == "session_list"] == [0, 42, 79, 81]
    assert not got[0].synced and not got[0].open


@pytest.mark.parametrize("window", [1, 2, 4, 8, 16])
def test_download_keeps_the_window_and_acks_once_per_window(tmp_path, window):
    belt = R.RealBelt(tmp_path, sessions=[20000])
    data = belt.files[1]
    chunk = -(-len(data) // 20)                     # the file in 20 chunks

    async def body(client):
        got = await client.download(1, window=window, chunk=chunk)
        return got, client.last_download
    got, stats = with_belt(belt, body)
    assert got == data
    assert stats.chunks == 20 and stats.rereads == 0
    assert stats.acks == -(-20 // window)
    # One round trip per window: every window after the first waits for the ack of the one
    # before (a window of 1: each of the 19 chunks after the first; of 16: once).
    assert stats.gating_acks() == {1: 19, 2: 9, 4: 4, 8: 2, 16: 1}[window]
    # The belt fills the window ahead of the acks, but never more than the window.
    assert belt.seen.max_unacked == window
    assert belt.seen.acks == stats.acked and belt.seen.acks[-1] == len(data)


def test_download_recovers_from_lost_chunks_and_resumes(tmp_path):
    belt = R.RealBelt(tmp_path, sessions=[20000])
    data = belt.files[1]
    for off in (1000, 6000):
        belt.drop(lambda p, off=off: R.data_offset(p) == off, times=1)

    async def body(client):
        got = await client.download(1, window=4, chunk=500)
        stats = client.last_download
        tail = await client.download(1, offset=2500, have=data[:2500], window=4, chunk=500)
        return got, stats, tail
    got, stats, tail = with_belt(belt, body)
    assert got == data and tail == data
    assert stats.rereads == 2 and stats.ignored > 0
    reads = [f for n, _, f in belt.seen.requests if n == "session_read"]
    assert [f[1] for f in reads] == [0, 1000, 6000, 2500]


def test_download_after_a_silent_stall_rereads_from_the_last_contiguous_byte(tmp_path):
    belt = R.RealBelt(tmp_path, sessions=[9000])
    data = belt.files[1]
    chunk = -(-len(data) // 8)          # 8 chunks: the whole file in one window
    last = 7 * chunk
    belt.drop(lambda p: R.data_offset(p) == last, times=1)   # nothing follows to reveal the gap

    async def body(client):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = await client.download(1, window=8, chunk=chunk)
        return got, client.last_download, loop.time() - t0
    got, stats, waited = with_belt(belt, body, timeout=2.0)
    assert got == data and stats.rereads == 1
    assert 2.0 <= waited < 2.3                  # one timeout, and round trips of the sim's steps
    reads = [f for n, _, f in belt.seen.requests if n == "session_read"]
    assert [f[1] for f in reads] == [0, last]


def test_download_checks_the_crc_against_the_list_and_refuses_open_sessions(tmp_path):
    belt = R.RealBelt(tmp_path, sessions=[3000])

    def damage(pkt):
        # One bit flipped in transit, in the data of the chunk at 512 (no framing CRC over radio).
        if R.data_offset(pkt) == 512:
            pkt = pkt[:-1] + bytes((pkt[-1] ^ 1,))
        return pkt
    belt.tamper(damage)

    async def body(client):
        with pytest.raises(C.DownloadError) as e1:
            await client.download(1, chunk=512)
        belt.tamper(None)
        sid = await client.session_start()
        with pytest.raises(C.WrongState) as e2:
            await client.download(sid)
        with pytest.raises(C.NotFound) as e3:
            await client.download(7)
        return sid, e1.value, e2.value, e3.value
    sid, e1, e2, e3 = with_belt(belt, body)
    good = zlib.crc32(belt.files[1])
    assert str(e1).startswith("session 1: CRC32 ") and "differs from the belt's %08x" % good \
        in str(e1)
    assert sid == 2
    assert str(e2) == "session 2 is still being recorded: stop it first"
    assert str(e3) == "the belt has no session 7 (`corecue sessions --on-belt` lists those it has)"
    assert "session_read" not in belt.seen.names()[-3:]     # both refused from the list


def test_confirm_only_with_the_right_crc(tmp_path):
    belt = R.RealBelt(tmp_path, sessions=[1800])
    data = belt.files[1]

    async def body(client):
        with pytest.raises(C.CrcMismatch):
            await client.confirm(1, zlib.crc32(data) ^ 0x10)
        before = (await client.sessions())[0].synced
        await client.confirm(1, zlib.crc32(data))
        return before, (await client.sessions())[0].synced
    assert with_belt(belt, body) == (False, True)
    assert belt.app.store.list()[0][2] is True


def test_a_lost_link_fails_what_is_pending_and_what_follows(tmp_path):
    belt = R.RealBelt(tmp_path)
    belt.hold(R.is_reply("status"))

    async def body(client):
        task = asyncio.ensure_future(client.status())
        await asyncio.sleep(0.1)
        assert not task.done()
        belt.cut(OSError(5, "Input/output error"))
        with pytest.raises(C.LinkLost) as e1:
            await task
        with pytest.raises(C.LinkLost) as e2:
            await client.config_get()
        await asyncio.sleep(0.1)
        return str(e1.value), str(e2.value)
    a, b = with_belt(belt, body)
    assert a == b == "connection to the belt lost: [Errno 5] Input/output error"
    assert belt.link.closed                     # the belt saw its line end


def test_a_link_lost_mid_download_ends_it_at_once(tmp_path):
    belt = R.RealBelt(tmp_path, sessions=[9000])
    belt.drop(lambda p: (R.data_offset(p) or 0) >= 1000)

    async def body(client):
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, belt.cut)
        t0 = loop.time()
        with pytest.raises(C.LinkLost):
            await client.download(1, window=8, chunk=500)
        return loop.time() - t0
    assert with_belt(belt, body, timeout=3.0) == pytest.approx(0.5, abs=0.03)


def test_a_belt_that_stops_sending_is_given_up_on_after_some_re_reads(tmp_path):
    belt = R.RealBelt(tmp_path, sessions=[9000])
    size = len(belt.files[1])
    # The first chunk arrives; every later one is lost, however often it is read again.
    belt.drop(lambda p: (R.data_offset(p) or 0) >= 500)

    async def body(client):
        with pytest.raises(C.BeltTimeout) as e:
            await client.download(1, window=8, chunk=500)
        return str(e.value)
    msg = with_belt(belt, body, timeout=1.0)
    assert msg == ("the belt stopped sending session 1 at byte 500 of %d (5 re-reads, 1 s "
                   "each)" % size)
    reads = [f for n, _, f in belt.seen.requests if n == "session_read"]
    assert len(reads) == 1 + C.DOWNLOAD_RETRIES
    assert [f[1] for f in reads[1:]] == [500] * C.DOWNLOAD_RETRIES


def test_malformed_packets_and_stray_errors_do_not_disturb_the_client(tmp_path):
    belt = R.RealBelt(tmp_path)

    async def body(client):
        stray = []
        client.subscribe("error", lambda code, msg: stray.append((code, msg)))
        belt.inject(b"\x01\x02")                            # too short
        belt.inject(P.packet(0x42, 0, b"\x01"))             # a data event too short
        belt.inject(P.packet(0x7E, 0, b""))                 # unknown event
        belt.send_raw(P.packet(P.type_of("status"), 0, b"\x01"))   # the belt says: malformed
        belt.send_raw(P.request("status", 999))             # the belt answers nobody's request
        await asyncio.sleep(0.2)
        return stray, client.malformed, client.unmatched, await client.status()
    stray, malformed, unmatched, st = with_belt(belt, body)
    assert [code for code, _ in stray] == [P.E_MALFORMED] and stray[0][1]
    assert malformed == 3 and unmatched == 1 and st.battery_mv == 3900
    assert [r[1] for r in belt.seen.requests[-3:-1]] == [0, 999]


def test_a_reply_of_the_wrong_type_or_shape_is_an_error(tmp_path):
    belt = R.RealBelt(tmp_path)

    def cut_short(pkt):
        if R.is_reply("status")(pkt):
            pkt = P.packet(pkt[0], pkt[2] | pkt[3] << 8, b"\x00" * 3)
        return pkt

    async def body(client):
        belt.tamper(cut_short)
        with pytest.raises(C.BadReply) as e:
            await client.status()
        belt.tamper(None)
        return str(e.value), await client.status()
    msg, st = with_belt(belt, body)
    assert msg.startswith("malformed reply to status")
    assert st.battery_mv == 3900


def test_request_ids_wrap_and_skip_ids_in_flight(tmp_path):
    belt = R.RealBelt(tmp_path)

    async def body(client):
        client._next_id = 65535
        await client.status()
        assert client._next_id == 1
        # An id still waiting for its reply is skipped.
        belt.hold(R.is_reply("config_get"))
        pending = asyncio.ensure_future(client.config_get())
        await asyncio.sleep(0)
        assert client._next_id == 2
        client._next_id = 1
        st = await client.status()
        belt.release()
        await pending
        return st
    st = with_belt(belt, body)
    assert st.battery_mv == 3900
    assert [(n, r) for n, r, _ in belt.seen.requests[1:]] == [
        ("status", 65535), ("config_get", 1), ("status", 2)]


def test_buzz_takes_pattern_names_and_calibration_phases_are_checked(tmp_path):
    belt = R.RealBelt(tmp_path)

    async def body(client):
        with pytest.raises(ValueError) as e:
            await client.buzz("tickle")
        assert "brace_more_1" in str(e.value)
        with pytest.raises(ValueError):
            await client.cal_begin("stretch")
        t0 = belt.board.elapsed_ms
        await client.buzz("go")
        await asyncio.sleep(2.0)
        return t0
    t0 = with_belt(belt, body)
    haptics = C.firmware_module("belt.haptics")
    assert [(n, f) for n, _, f in belt.seen.requests[1:]] == [("buzz", (haptics.GO,))]
    assert any(t >= t0 and level > 0 for t, level in belt.board.motor_edges), "the motor ran"
