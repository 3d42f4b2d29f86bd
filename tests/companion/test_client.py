"""The transport-neutral client against a belt double in memory, on a virtual clock: request ids,
events, timeouts, refusals, version checks, paging, windowed downloads and their recovery."""
import asyncio
import zlib

import pytest

from beltsim import FakeBelt, MemoryTransport, P, run_virtual
from corecue import client as C


def session_bytes(n, seed=1):
    return bytes((i * 7 + seed + (i >> 8)) & 0xFF for i in range(n))


def with_belt(fake, body, timeout=3.0):
    async def go():
        belt = C.Belt(MemoryTransport(fake), timeout=timeout)
        await belt.hello()
        return await body(belt)
    return run_virtual(go())


def test_hello_reads_the_belt_and_its_capabilities():
    fake = FakeBelt()
    info = with_belt(fake, lambda b: _ret(b.info))
    assert info.version == P.VERSION and info.firmware == "0.1.0-fake"
    assert info.device == "0102030405060708" and info.capability_names() == ["usb", "live"]


async def _ret(v):
    return v


@pytest.mark.parametrize("version, oldest, words", [
    (P.VERSION, P.VERSION + 1, "update corecue"),       # the belt needs a newer companion
    (0, 0, "update the belt's firmware"),               # the belt is older than we accept
])
def test_hello_refuses_incompatible_belts_with_advice(version, oldest, words):
    fake = FakeBelt()
    fake.version, fake.oldest_companion = version, oldest
    with pytest.raises(C.IncompatibleBelt) as e:
        with_belt(fake, _ret)
    assert words in str(e.value)
    assert "\n" not in str(e.value)


def test_replies_are_matched_by_request_id_not_by_order():
    fake = FakeBelt()

    async def body(belt):
        send = fake.out
        held = []

        def reorder(pkt):
            # Hold the reply to status until config_get has been answered.
            t = P.parse(pkt)[0]
            if t == P.type_of("status") | P.REPLY:
                held.append(pkt)
                return
            send(pkt)
            for h in held:
                send(h)
        fake.out = reorder
        st, cfg = await asyncio.gather(belt.status(), belt.config_get())
        return st, cfg, fake.requests[-2:]
    st, cfg, order = with_belt(fake, body)
    assert order == ["status", "config_get"]
    assert st.battery_mv == 3900 and st.flash_free == 900000
    assert cfg["target_pm"] == 200


def test_events_reach_subscribers_while_requests_are_in_flight():
    fake = FakeBelt()

    async def body(belt):
        seen = []
        stop = belt.subscribe("effort", seen.append)
        await belt.live(True)
        for i in range(5):
            fake.effort(i, 200 + i)
        st = await belt.status()
        stop()
        fake.effort(99, 1)
        await belt.status()
        return seen, st
    seen, st = with_belt(fake, body)
    assert [(e.frame, e.effort_pm) for e in seen] == [(i, 200 + i) for i in range(5)]
    assert st.live == 1


def test_a_silent_belt_times_out_with_a_clear_error_and_the_client_recovers():
    fake = FakeBelt()

    async def body(belt):
        loop = asyncio.get_running_loop()
        fake.mute.add("status")
        t0 = loop.time()
        with pytest.raises(C.BeltTimeout) as e:
            await belt.status()
        waited = loop.time() - t0
        fake.mute.clear()
        # A late answer to the abandoned request is counted, not mistaken for a new reply.
        fake._status(P.parse(belt.transport.sent[-1])[2], (), b"")
        cfg = await belt.config_get()
        return str(e.value), waited, cfg, belt.unmatched
    msg, waited, cfg, unmatched = with_belt(fake, body, timeout=2.5)
    assert msg == "the belt did not answer status within 2.5 s"
    assert waited == pytest.approx(2.5)
    assert cfg["low_pm"] == 150 and unmatched == 1


def test_a_refused_value_names_the_field_and_changes_nothing():
    fake = FakeBelt()

    async def body(belt):
        new = await belt.config_set({"target_pm": 220})
        with pytest.raises(C.InvalidValue) as e:
            await belt.config_set({"low_pm": 100, "high_pm": 5000})
        return new, e.value, await belt.config_get()
    new, err, after = with_belt(fake, body)
    assert new["target_pm"] == 220
    assert err.code == P.E_INVALID and err.reason == "invalid"
    assert str(err) == "belt refused config_set: high_pm: 5000 above maximum 1000"
    assert after == {"target_pm": 220, "low_pm": 150, "high_pm": 300}


def test_sessions_pages_through_the_list():
    fake = FakeBelt({i: session_bytes(100 + i) for i in (1, 2, 3, 5, 8, 9, 10, 11, 12)}, page=4)
    got = with_belt(fake, lambda b: b.sessions())
    assert [s.id for s in got] == [1, 2, 3, 5, 8, 9, 10, 11, 12]
    assert [s.size for s in got] == [100 + i for i in (1, 2, 3, 5, 8, 9, 10, 11, 12)]
    assert fake.requests.count("session_list") == 4          # 3 pages of 4, 4, 1, then empty
    assert not got[0].synced and not got[0].open


@pytest.mark.parametrize("window", [1, 2, 4, 8, 16])
def test_download_keeps_the_window_and_acks_per_half_window(window):
    data = session_bytes(20000)
    fake = FakeBelt({3: data})

    async def body(belt):
        got = await belt.download(3, window=window, chunk=1000)
        return got, belt.last_download
    got, stats = with_belt(fake, body)
    assert got == data
    assert stats.chunks == 20 and stats.rereads == 0
    every = max(1, window // 2)
    assert stats.acks == -(-20 // every)
    # Round trips the belt waits on grow with windows, not chunks: with a window of 1 each of
    # the 19 chunks after the first waits for an ack; a window of 16 waits once.
    assert stats.gating_acks() == {1: 19, 2: 18, 4: 8, 8: 3, 16: 1}[window]
    assert fake.max_unacked <= window
    assert fake.acks[-1] == len(data)


def test_download_recovers_from_lost_chunks_and_resumes():
    data = session_bytes(12345)
    fake = FakeBelt({4: data})
    fake.lose = {2000, 9000}

    async def body(belt):
        got = await belt.download(4, window=4, chunk=1000)
        stats = belt.last_download
        tail = await belt.download(4, offset=5000, have=data[:5000], window=4, chunk=1000)
        return got, stats, tail
    got, stats, tail = with_belt(fake, body)
    assert got == data and tail == data
    assert stats.rereads == 2 and stats.ignored > 0


def test_download_after_a_silent_stall_rereads_from_the_last_contiguous_byte():
    data = session_bytes(5000)
    fake = FakeBelt({6: data})
    fake.lose = {4000}                  # the last chunk: nothing follows to reveal the gap

    async def body(belt):
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        got = await belt.download(6, window=8, chunk=1000)
        return got, belt.last_download, loop.time() - t0
    got, stats, waited = with_belt(fake, body, timeout=2.0)
    assert got == data and stats.rereads == 1 and waited == pytest.approx(2.0)


def test_download_checks_the_crc_against_the_list_and_refuses_open_sessions():
    fake = FakeBelt({1: session_bytes(3000), 2: session_bytes(10)})
    fake.wrong_crc.add(1)
    fake.open_id = 2
    with pytest.raises(C.DownloadError) as e:
        with_belt(fake, lambda b: b.download(1))
    assert "differs from the belt's" in str(e.value)
    with pytest.raises(C.WrongState) as e:
        with_belt(fake, lambda b: b.download(2))
    assert str(e.value) == "session 2 is still being recorded: stop it first"
    with pytest.raises(C.NotFound) as e:
        with_belt(fake, lambda b: b.download(7))
    assert str(e.value) == "the belt has no session 7"


def test_confirm_only_with_the_right_crc():
    data = session_bytes(777)
    fake = FakeBelt({1: data})

    async def body(belt):
        with pytest.raises(C.CrcMismatch):
            await belt.confirm(1, zlib.crc32(data) ^ 0x10)
        before = (await belt.sessions())[0].synced
        await belt.confirm(1, zlib.crc32(data))
        return before, (await belt.sessions())[0].synced
    assert with_belt(fake, body) == (False, True)


def test_a_lost_link_fails_what_is_pending_and_what_follows():
    fake = FakeBelt()
    fake.mute.add("status")

    async def body(belt):
        task = asyncio.ensure_future(belt.status())
        await asyncio.sleep(0)
        belt.connection_lost(OSError(5, "Input/output error"))
        with pytest.raises(C.LinkLost) as e1:
            await task
        with pytest.raises(C.LinkLost) as e2:
            await belt.config_get()
        return str(e1.value), str(e2.value)
    a, b = with_belt(fake, body)
    assert a == b and a.startswith("connection to the belt lost")


def test_a_link_lost_mid_download_ends_it_at_once():
    fake = FakeBelt({1: session_bytes(5000)})
    fake.lose = {2000, 3000, 4000}

    async def body(belt):
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, belt.connection_lost, OSError(5, "Input/output error"))
        t0 = loop.time()
        with pytest.raises(C.LinkLost):
            await belt.download(1, window=8, chunk=1000)
        return loop.time() - t0
    assert with_belt(fake, body, timeout=3.0) == pytest.approx(0.5)


def test_a_belt_that_stops_sending_is_given_up_on_after_some_re_reads():
    fake = FakeBelt({1: session_bytes(5000)})

    async def body(belt):
        belt_read = fake._session_read
        calls = []

        def once(rid, f, tail):
            # The first read sends one chunk; every re-read is answered but sends nothing.
            calls.append(f)
            if len(calls) == 1:
                fake.lose.update(range(1000, 5000, 1000))
                return belt_read(rid, f, tail)
            fake.reply("session_read", rid, f[0], 5000)
        fake._session_read = once
        with pytest.raises(C.BeltTimeout) as e:
            await belt.download(1, window=8, chunk=1000)
        return str(e.value), len(calls)
    msg, reads = with_belt(fake, body, timeout=1.0)
    assert msg == ("the belt stopped sending session 1 at byte 1000 of 5000 (5 re-reads, 1 s "
                   "each)")
    assert reads == 1 + C.DOWNLOAD_RETRIES


def test_malformed_packets_and_stray_errors_do_not_disturb_the_client():
    fake = FakeBelt()

    async def body(belt):
        stray = []
        belt.subscribe("error", lambda code, msg: stray.append((code, msg)))
        belt.packet_received(b"\x01\x02")                            # too short
        belt.packet_received(P.packet(0x42, 0, b"\x01"))             # a data event too short
        belt.packet_received(P.packet(0x7E, 0, b""))                 # unknown event
        belt.packet_received(P.error(0, P.E_MALFORMED, "bad frame"))  # answers nothing
        belt.packet_received(P.reply("status", 999, *range(14)))     # nobody asked
        return stray, belt.malformed, belt.unmatched, await belt.status()
    stray, malformed, unmatched, st = with_belt(fake, body)
    assert stray == [(P.E_MALFORMED, "bad frame")]
    assert malformed == 3 and unmatched == 1 and st.battery_mv == 3900


def test_a_reply_of_the_wrong_type_or_shape_is_an_error():
    fake = FakeBelt()

    def wrong(pkt):
        t, _, rid, _ = P.parse(pkt)
        if t == P.type_of("status") | P.REPLY:
            pkt = P.packet(t, rid, b"\x00" * 3)
        fake_out(pkt)

    async def body(belt):
        nonlocal fake_out
        fake_out = belt.transport._from_belt
        fake.out = wrong
        with pytest.raises(C.BadReply) as e:
            await belt.status()
        return str(e.value)
    fake_out = None
    assert with_belt(fake, body).startswith("malformed reply to status")


def test_request_ids_wrap_and_skip_ids_in_flight():
    fake = FakeBelt()

    async def body(belt):
        belt._next_id = 65535
        await belt.status()
        assert belt._next_id == 1
        return await belt.status()
    assert with_belt(fake, body).frames == 12


def test_buzz_takes_pattern_names_and_calibration_phases_are_checked():
    fake = FakeBelt()
    sent = []

    async def body(belt):
        fake.mute.add("buzz")
        with pytest.raises(ValueError) as e:
            await belt.buzz("tickle")
        assert "brace_more_1" in str(e.value)
        with pytest.raises(ValueError):
            await belt.cal_begin("stretch")
        with pytest.raises(C.BeltTimeout):
            await belt.buzz("go")
        sent.append(P.parse(belt.transport.sent[-1]))
    with_belt(fake, body, timeout=0.5)
    haptics = C.firmware_module("belt.haptics")
    assert sent[0][0] == P.type_of("buzz") and sent[0][3] == bytes((haptics.GO,))
