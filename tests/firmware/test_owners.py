# The belt's owners at boot (belt.owners), as main.py and the virtual belt set them up: the key
# file kept across boots, the factory reset with the button held at power-on (keys gone,
# sessions and config kept, its own pattern), a damaged key file meaning "pair again", and the
# long press while idle opening the pairing window (and not during a run).
import beltrig as rig
from fwtest import eq, record
from belt import auth as A
from belt import button
from belt import haptics
from belt import owners
from belt.keystore import BROKEN, OWNED, UNPAIRED
from belt.runflow import State
from boards.scenarios import Responsive
from boards.sim import Board

HOST = b"\x31" * 8


def _boot(d, held=False):
    from belt import config as _config
    from belt.app import App
    from belt.storage import Storage
    board = Board(d, Responsive(), button_held=held)
    lines = []
    cfg, _ = _config.load(board.root + "/corecue.cfg")
    app = App(board, cfg, Storage(board.root + "/sessions"), lines.append)
    return board, app, owners.setup(app, board.root), lines


def _files(board):
    # The session files and the config (the clock files count boots, so they change at each).
    out = {}
    import os
    for name in os.listdir(board.root + "/sessions"):
        if not (name.endswith(".cs") or name.endswith(".cy")):
            continue
        with open(board.root + "/sessions/" + name, "rb") as f:
            out[name] = f.read()
    with open(board.root + "/corecue.cfg", "rb") as f:
        out["corecue.cfg"] = f.read()
    return out


def test_keys_survive_a_reboot_and_the_factory_reset_clears_only_them():
    d = rig.fresh("owners")
    board, app, owner, _ = _boot(d)
    eq(owner.keys.state, UNPAIRED, "a new belt has no owner")
    owner.keys.add(HOST, b"\x55" * 32)
    sid = app.start_session()
    app.stop_session()
    app.config.update({"low_pm": 160})
    app.config.save()
    board, app, owner, _ = _boot(d)
    eq((owner.keys.state, owner.keys.key(HOST)), (OWNED, b"\x55" * 32), "kept across a boot")
    before = _files(board)
    eq(app.store.list()[0][2], False, "the session is unsynced")
    board, app, owner, log = _boot(d, held=True)
    eq(owner.keys.state, UNPAIRED, "the button held at power-on: no owner")
    eq(app.player.pid, haptics.KEYS_RESET, "with its own pattern")
    eq(any("every paired computer forgotten" in ln for ln in log), True, "and said in the log")
    eq(sorted(_files(board)), sorted(before), "the same files")
    eq(_files(board) == before, True, "sessions and config byte-identical")
    eq([s[0] for s in app.store.list()], [sid], "the unsynced session kept")
    board, app, owner, _ = _boot(d)
    eq(owner.keys.state, UNPAIRED, "still no owner after the next boot")


def test_a_damaged_key_file_means_pair_again_never_an_open_belt():
    d = rig.fresh("ownersbad")
    board, app, owner, _ = _boot(d)
    owner.keys.add(HOST, b"\x66" * 32)
    with open(board.root + "/keys", "r+b") as f:
        f.seek(30)
        b = f.read(1)
        f.seek(30)
        f.write(bytes((b[0] ^ 1,)))
    board, app, owner, log = _boot(d)
    eq(owner.keys.state, BROKEN, "the pair again state")
    eq(any("pair again" in ln for ln in log), True, "said in the log: %r" % log)
    s = A.Session(owner, usb=False)
    s.handle(A.EV_CONNECT, board.ticks_ms())
    got = s.handle(A.EV_PACKET, board.ticks_ms(), A.P.packet(A.T_AUTH, 1, HOST + bytes(16)))
    eq("damaged" in got[0][1].decode("utf-8", "ignore"), True, "auth refused: pair again")
    got = s.handle(A.EV_PACKET, board.ticks_ms(), A.P.request("status", 2))
    eq(got[0][1][0], A.P.T_ERROR, "and nothing else served")


def test_the_long_press_opens_the_window_only_when_idle():
    d = rig.fresh("ownerswin")
    board, app, owner, _ = _boot(d)

    async def body():
        app.press(button.LONG)
        now = board.ticks_ms()
        eq((owner.window_open(now), app.player.pid), (True, haptics.PAIRING), "idle: open")
        await rig.advance(board, A.WINDOW_MS + 100)
        eq(owner.window_open(board.ticks_ms()), False, "closed after 60 s")
        app.press(button.SHORT)                             # the warm-up starts
        eq(app.flow.state, State.WARMUP, "a run")
        app.press(button.LONG)                              # aborts the warm-up, as before
        eq((app.flow.state, owner.window_open(board.ticks_ms())), (State.IDLE, False),
           "a long press in the run keeps its meaning; no window")
        record("window_ms", A.WINDOW_MS)
    rig.run(board, app, body)
