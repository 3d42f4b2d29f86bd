# When the belt advertises, and how often (belt.radiowindow, the double press of belt.button, the
# BLE link's pacing), under both interpreters on an injected clock: the window's own arithmetic,
# the button's classifier fed edges at chosen ticks, and the real app with its BLE link on the
# sim board's virtual time, a stand-in radio recording every interval asked of it.
import asyncio

import beltrig as rig
from fwtest import eq, raises, record
from test_blelink import Radio, _uuid

from belt import button
from belt import config as _config
from belt import haptics
from belt.blelink import SERVICE_UUID, BleLink
from belt.radiowindow import RadioWindow
from belt.runflow import State
from boards.scenarios import Responsive
from boards.sim import Board

_SETTINGS = {"adv_fast_ms": 200, "adv_window_s": 60, "adv_slow_ms": 1000}


def test_fast_in_the_window_from_boot_then_slow_then_fast_again_when_opened():
    w = RadioWindow(_SETTINGS, 5000)
    eq(w.interval_us(5000), 200000, "fast from boot")
    eq(w.interval_us(5000 + 59999), 200000, "until the window ends")
    eq(w.left_ms(5000 + 59000), 1000)
    eq(w.interval_us(5000 + 60000), 1000000, "slow after it")
    eq(w.left_ms(5000 + 60000), 0)
    w.open(200000)
    eq(w.interval_us(200000 + 30000), 200000, "fast again when asked")
    w.open(200000 + 30000)                  # opened again inside: 60 s from then
    eq(w.interval_us(200000 + 89999), 200000)
    eq(w.interval_us(200000 + 90000), 1000000)
    eq(w.opened, 3, "boot and two opens")
    none = RadioWindow({"adv_fast_ms": 100, "adv_window_s": 10, "adv_slow_ms": 0}, 0)
    eq((none.interval_us(9999), none.interval_us(10000)), (100000, 0), "0: none outside")
    # Across the tick counter's wrap (2**30 ms).
    wrap = RadioWindow(_SETTINGS, 0x3FFFFFFF - 1000)
    eq(wrap.interval_us(58998), 200000)     # 59,999 ms after
    eq(wrap.interval_us(58999), 1000000)


def test_each_sync_asked_for_is_counted_1_to_255_and_round_again():
    w = RadioWindow(_SETTINGS, 0)
    eq(w.asked, 0, "none since boot")
    w.ask(100000)
    eq((w.asked, w.opened, w.interval_us(100000 + 59999)), (1, 2, 200000), "counted, and a window")
    for _ in range(254):
        w.ask(100000)
    eq(w.asked, 255)
    w.ask(100000)
    eq(w.asked, 1, "never 0 again: 0 says none since boot")
    w.open(200000)
    eq(w.asked, 1, "other windows ask for nothing")


def test_the_settings_and_their_limits():
    c = _config.Config()
    eq((c.adv_fast_ms, c.adv_window_s, c.adv_slow_ms), (200, 60, 1000), "the defaults")
    for change, why in (
            ({"adv_fast_ms": 19}, "adv_fast_ms: 19 below minimum 20"),
            ({"adv_fast_ms": 1001}, "adv_fast_ms: 1001 above maximum 1000"),
            ({"adv_window_s": 9}, "adv_window_s: 9 below minimum 10"),
            ({"adv_window_s": 601}, "adv_window_s: 601 above maximum 600"),
            ({"adv_slow_ms": 2501}, "adv_slow_ms: 2501 above maximum 2500 (or 0: none)"),
            ({"adv_slow_ms": 150}, "adv_slow_ms: 150 faster than adv_fast_ms 200"),
            ({"adv_slow_ms": True}, "adv_slow_ms: True is not an integer (or 0: none)")):
        e = raises(_config.ConfigError, c.update, change)
        eq(str(e), why)
    eq(c.adv_slow_ms, 1000, "a refused change changes nothing")
    c.update({"adv_slow_ms": 500})
    eq(str(raises(_config.ConfigError, c.update, {"adv_fast_ms": 1000})),
       "adv_fast_ms: 1000 slower than adv_slow_ms 500", "the field changed is named")
    c.update({"adv_slow_ms": 0})
    c.update({"adv_slow_ms": 200})          # as fast as the window: always fast (the old policy)
    eq(c.adv_slow_ms, 200)


def _edges(b, presses, doubles, until):
    """Feed (down, up) ticks to button b, polling every 10 ms up to until: [(tick, kind)]."""
    out = []
    edges = []
    for down, up in presses:
        edges.append((down, True))
        edges.append((up, False))
    for t in range(0, until, 10):
        while edges and edges[0][0] <= t:
            b.edge(edges[0][1], edges.pop(0)[0])
        kind = b.poll(t, doubles)
        if kind:
            out.append((t, kind))
    return out


def test_a_double_press_while_idle_and_a_short_press_that_waits_for_it():
    # Two short presses, the second 200 ms after the first's release: DOUBLE.
    eq(_edges(button.Button(), ((100, 300), (500, 700)), True, 2000), [(700, button.DOUBLE)])
    # One short press: reported 400 ms after its release, once no second has come.
    eq(_edges(button.Button(), ((100, 300),), True, 2000), [(700, button.SHORT)])
    # The second press too late: two short presses.
    eq(_edges(button.Button(), ((100, 300), (710, 900)), True, 2000),
       [(700, button.SHORT), (1300, button.SHORT)])
    # Where a double means nothing (a run): each short press at once, as before.
    eq(_edges(button.Button(), ((100, 300), (500, 700)), False, 2000),
       [(300, button.SHORT), (700, button.SHORT)])
    # A short press and then a long one: the long one.
    eq(_edges(button.Button(), ((100, 300), (500, 2100)), True, 3000), [(2100, button.LONG)])
    # A bounce (under 40 ms) before the second press still lets it make a double.
    eq(_edges(button.Button(), ((100, 300), (450, 460), (500, 700)), True, 2000),
       [(700, button.DOUBLE)])
    # The wait the buttons task sleeps: none while a second press is down.
    b = button.Button()
    b.edge(True, 100)
    b.edge(False, 300)
    eq(b.poll(300, True), button.NONE)
    eq(b.wait_ms(350), 350)
    b.edge(True, 500)
    eq((b.poll(500, True), b.wait_ms(900)), (button.NONE, None), "the second press is down")


def _belt(name, settings=None):
    d = rig.fresh(name)
    if settings:                              # saved before the belt boots, as config set does
        cfg, _ = _config.load(Board(d, Responsive()).root + "/corecue.cfg")
        cfg.update(settings)
        cfg.save()
    board, app, lines = rig.boot(d)
    radio = Radio()
    adverts = []                              # (elapsed ms, interval us or None) as asked
    radio.payloads = []                       # the advertising data given with each

    def gap_advertise(interval, adv_data=None, resp_data=None):
        adverts.append((board.elapsed_ms, interval))
        radio.payloads.append(adv_data)
    radio.gap_advertise = gap_advertise
    link = BleLink(app, radio, _uuid)
    return board, app, link, adverts, lines


def _fields(adv):
    """{AD type: value} of an advertising payload, its length structures walked."""
    out = {}
    i = 0
    while i < len(adv):
        n = adv[i]
        out[adv[i + 1]] = bytes(adv[i + 2:i + 1 + n])
        i += 1 + n
    eq(i, len(adv), "the structures fill the payload exactly")
    return out


def _at(adverts, ms):
    """The interval on air at elapsed ms (None: not advertising)."""
    now = None
    for t, us in adverts:
        if t <= ms:
            now = us
    return now


def test_the_belt_advertises_fast_after_boot_slow_later_fast_on_a_double_press_off_in_a_run():
    board, app, link, adverts, _ = _belt("radiowin")

    async def body():
        await rig.advance(board, 1000)
        fast_boot = _at(adverts, board.elapsed_ms)
        await rig.advance(board, 60000)
        slow = _at(adverts, board.elapsed_ms)
        board.press("double")
        await rig.until(board, lambda: app.window.opened == 2)
        eq(app.player.pid, haptics.SYNC_WINDOW, "the gesture is answered")
        await rig.advance(board, 600)
        fast_asked = _at(adverts, board.elapsed_ms)
        eq(app.flow.state, State.IDLE, "a double press starts no warm-up")
        await rig.advance(board, 60000)
        slow_again = _at(adverts, board.elapsed_ms)
        board.press("short")                  # the warm-up: the radio goes off
        await rig.until(board, lambda: app.flow.state == State.WARMUP)
        await rig.advance(board, 1000)
        off = _at(adverts, board.elapsed_ms)
        app.press(button.LONG)                # the warm-up given up: the radio comes back
        await rig.advance(board, 1000)
        back = _at(adverts, board.elapsed_ms)
        return fast_boot, slow, fast_asked, slow_again, off, back
    got = []

    async def run():
        got.extend(await body())
    rig.run(board, app, run, link.tasks())
    eq(tuple(got), (200000, 1000000, 200000, 1000000, None, 200000),
       "fast, slow, fast on the double press, slow, off in the warm-up, fast after it")
    record("radiowindow adverts", len(adverts))


def test_the_advertisement_counts_each_double_press_even_inside_a_window():
    board, app, link, adverts, _ = _belt("radioasked")
    radio = link.ble

    async def body():
        await rig.advance(board, 1000)
        seen = [radio.payloads[-1]]
        board.press("double")                 # inside the boot's window: the interval stays
        await rig.until(board, lambda: app.window.asked == 1)
        await rig.advance(board, 1000)
        seen.append(radio.payloads[-1])
        await rig.advance(board, 61000)       # slow now; the count stays in the advertisement
        seen.append(radio.payloads[-1])
        board.press("double")
        await rig.until(board, lambda: app.window.asked == 2)
        await rig.advance(board, 1000)
        seen.append(radio.payloads[-1])
        return seen
    seen = []

    async def run():
        seen.extend(await body())
    rig.run(board, app, run, link.tasks())
    eq([_fields(a)[0xFF] for a in seen],
       [b"\xff\xff\x01\x00", b"\xff\xff\x01\x01", b"\xff\xff\x01\x01", b"\xff\xff\x01\x02"],
       "company 0xFFFF, format 1, the count")
    eq(_fields(seen[0])[0x07], bytes(_uuid(SERVICE_UUID)), "the service beside it")
    eq(max(len(a) for a in seen), 27, "within a legacy advertisement's 31 bytes")
    eq(adverts[-1][1], 200000, "the second press's window")


def test_no_advertising_outside_the_windows_when_slow_is_0():
    board, app, link, adverts, _ = _belt("radionone", {"adv_slow_ms": 0, "adv_window_s": 20})

    async def body():
        await rig.advance(board, 21000)
        eq(_at(adverts, board.elapsed_ms), None, "silent after the window")
        board.press("double")
        await rig.advance(board, 1500)
        eq(_at(adverts, board.elapsed_ms), 200000, "the double press opens one")
    rig.run(board, app, body, link.tasks())


def test_the_connection_parameters_the_central_chose_are_logged():
    board, app, link, adverts, lines = _belt("radioparams")
    board.log = lines.append

    async def body():
        await rig.advance(board, 600)
        link._irq(1, (1, 0, memoryview(bytes(6))))
        link._irq(27, (1, 12, 0, 400, 0))     # 15 ms, latency 0, 4 s
        await rig.advance(board, 100)
        link._irq(27, (2, 80, 4, 600, 0))     # not the served connection: ignored
        await rig.advance(board, 100)
    rig.run(board, app, body, link.tasks())
    eq(link.conn_params, (12, 0, 400))
    eq([m for m in lines if "parameters" in m],
       ["ble: connection parameters: interval 15.00 ms, latency 0, timeout 4000 ms "
        "(the central's choice)"])


def test_a_short_press_waiting_for_a_second_keeps_the_belt_from_sleeping_under_it():
    # Idle time 30 s; the press ends at 29.7 s and is reported 0.4 s later, after the idle check
    # at 30 s: its edges count as activity at once, so the belt starts the warm-up, not a sleep.
    board, app, link, adverts, _ = _belt("radioidle", {"sleep_s": 30})

    async def body():
        board.press("short", 29500)
        await rig.advance(board, 31000)
    rig.run(board, app, body, link.tasks())
    eq((app.asleep, app.flow.state), (False, State.WARMUP))
