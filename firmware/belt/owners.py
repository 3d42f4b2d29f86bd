# The belt's owners at boot (docs/protocol.md, "Ownership"): the key file on the flash, the
# factory reset (the button held at power-on), and the pairing window the wearer opens with a
# long press while the belt is idle. main.py calls setup() once per boot and hands the Owner to
# both links; the in-process virtual belt (corecue.twin.virtualbelt) calls the same function, so
# the simulation wires ownership exactly as the belt does.
#
# The key file starts empty: a belt is created without an owner, and every pairing makes a fresh
# X25519 key pair from os.urandom (belt.auth), so the belt's secrets are random and per owner. A
# missing file is "no owner", a damaged one "pair again" (belt.keystore); in both only HELLO and
# pairing are served, and pairing over Bluetooth still needs the wearer's window.
from belt import haptics
from belt.auth import WINDOW_MS, Owner
from belt.bonds import Bonds
from belt.keystore import KeyStore


def setup(app, root=""):
    """The Owner of this boot: keys loaded (or cleared when the button is held at power-on), the
    long press in idle wired to the pairing window."""
    board = app.board
    keys = KeyStore(root + "/keys")
    # The Bluetooth bonds (belt.bonds) go with the keys: extra to them, never the authority.
    bonds = Bonds(root + "/bonds", board.flag(), app.log)
    held = getattr(board, "button_held", None)
    if held is not None and held():
        try:
            bonds.clear()
            keys.clear()
            app.log("keys: button held at power-on: every paired computer forgotten "
                    "(sessions kept)")
            app.play(haptics.KEYS_RESET)
        except OSError as e:
            app.log("keys: the factory reset could not be saved: %r" % e)
    if keys.note:
        app.log("%s: pair again (%s)" % (keys.note, keys.state))
    owner = Owner(keys, board.device_id())
    owner.bonds = bonds

    def long_idle(now):
        owner.open_window(now)
        app.play(haptics.PAIRING)
        app.log("pairing window open for %d s" % (WINDOW_MS // 1000))

    app.on_long_idle = long_idle
    return owner


def paired(app, how):
    """The links' on_paired: a computer was added (the window has closed); the belt buzzes twice
    again so the wearer feels that it took."""
    def done(host):
        app.log("paired over %s with computer %s" % (how, bytes(host).hex()))
        app.play(haptics.PAIRING)
    return done
