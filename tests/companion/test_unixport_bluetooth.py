"""The unix port's `bluetooth` module (twin/unixport/bluetooth.py) under MicroPython, against its
radio server: the API as extmod/modbluetooth.c has it on the ESP32, point by point
(docs/ble-emulation.md). The checks run inside the MicroPython process and print one line each."""
import asyncio
import os
import subprocess
import tempfile

from corecue.interp import micropython_path
from corecue.twin.mpble import UNIXPORT
from corecue.twin.radio import EmulatedAir
from corecue.twin.radioserver import RadioServer

_CHECKS = r'''
import bluetooth
ble = bluetooth.BLE()
print("singleton", bluetooth.BLE() is ble)
print("read-off", ble.gatts_read(1))
print("active", ble.active(True))
print("name", ble.config("gap_name"))
((h,),) = ble.gatts_register_services(((bluetooth.UUID(0x180F),
                                       ((bluetooth.UUID(0x2A19), bluetooth.FLAG_READ),)),))
print("write", ble.gatts_write(h, b"abc"))
print("read", ble.gatts_read(h))
print("read-unknown", ble.gatts_read(999))
for name, call in (("kw-read", lambda: ble.gatts_read(value_handle=h)),
                   ("kw-irq", lambda: ble.irq(handler=None)),
                   ("kw-notify", lambda: ble.gatts_notify(0, h, data=b"x")),
                   ("bad-uuid", lambda: ble.gatts_register_services(((b"\x0f\x18", ()),)))):
    try:
        call()
        print(name, "accepted")
    except (TypeError, ValueError) as e:
        print(name, type(e).__name__)
try:
    ble.gatts_notify(5, h, b"x")
except OSError as e:
    print("notify-unconnected", e.errno)
print("uuid", bytes(bluetooth.UUID("7f3a0001-6c2e-4b8e-9a51-636f72656375")).hex())
'''


def test_the_unix_ports_bluetooth_module_keeps_the_devices_api():
    async def body():
        air = EmulatedAir()
        await air.start()
        dev = await air.add_peripheral()
        with tempfile.TemporaryDirectory() as d:
            sock = os.path.join(d, "radio")
            server = await RadioServer(air, dev).start(sock)
            proc = await asyncio.create_subprocess_exec(
                micropython_path(), "-c", _CHECKS, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=dict(os.environ, CORECUE_RADIO=sock, MICROPYPATH=UNIXPORT + ":.frozen"))
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
            await server.close()
        await air.close()
        return dict(line.split(" ", 1) for line in out.decode().splitlines())
    got = asyncio.run(body())
    assert got == {
        "singleton": "True",
        "read-off": "b''",                      # the stack's error is ignored
        "active": "True",
        "name": "b'MPY ESP32'",                 # ports/esp32/boards/sdkconfig.ble
        "write": "3",                           # gatts_write returns the length
        "read": "b'abc'",
        "read-unknown": "b''",
        "kw-read": "TypeError",                 # positional arguments only
        "kw-irq": "TypeError",
        "kw-notify": "TypeError",
        "bad-uuid": "ValueError",               # a bytes object is no UUID
        "notify-unconnected": "107",            # ENOTCONN
        "uuid": bytes(reversed(bytes.fromhex("7f3a00016c2e4b8e9a51636f72656375"))).hex(),
    }, got
