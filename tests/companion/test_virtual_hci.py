"""`corecue virtual ble`: the virtual belt reached by another Bluetooth host over a real HCI
transport. BlueZ through /dev/vhci needs a kernel with Bluetooth, which the build machines lack;
the same attach path is exercised here with Bumble's HCI-over-TCP transport and an independent
Bumble host (its own Device and Host, nothing shared with the companion's central) that scans
the air and must hear the belt's advertisement with its service UUID and name."""
import asyncio
import socket

import pytest

from bumble import hci
from bumble.device import Device
from bumble.transport import open_transport

from corecue.link import ble as T
from corecue.link.client import BeltError
from corecue.twin import mpble
from corecue.twin.virtualbelt import serve_hci


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("serve", [serve_hci, mpble.serve_hci], ids=["cpython", "micropython"])
def test_another_host_over_hci_hears_the_virtual_belt(tmp_path, serve):
    port = _free_port()

    async def body():
        ready = asyncio.Event()
        names = []

        def on_ready(name):
            names.append(name)
            ready.set()
        server = asyncio.create_task(serve(str(tmp_path / "belt"),
                                               f"tcp-server:127.0.0.1:{port}", speed=0,
                                               on_ready=on_ready))
        try:
            async with asyncio.timeout(40):
                await ready.wait()
                async with await open_transport(f"tcp-client:127.0.0.1:{port}") as t:
                    host = Device.with_hci("outside-host", hci.Address("F0:F1:F2:F3:F4:F5"),
                                           t.source, t.sink)
                    heard = asyncio.get_running_loop().create_future()

                    def on_adv(adv):
                        name = adv.data.get(0x09)           # complete local name
                        uuids = adv.data.get(0x07) or []    # complete 128-bit service UUIDs
                        if name and not heard.done():
                            heard.set_result((name, [str(u).lower() for u in uuids]))
                    host.on("advertisement", on_adv)
                    await host.power_on()
                    await host.start_scanning(active=True)
                    name, uuids = await heard
                    await host.stop_scanning()
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
        return names[0], name, uuids
    belt, name, uuids = asyncio.run(body())
    assert name == belt and belt.startswith("corecue-")
    assert T.SERVICE_UUID in uuids


def test_a_missing_hci_device_is_one_line(tmp_path):
    async def body():
        try:
            await serve_hci(str(tmp_path / "belt"), "file:/nonexistent/vhci")
        except BeltError as e:
            return str(e)
    msg = asyncio.run(body())
    assert msg == ("cannot open the HCI transport file:/nonexistent/vhci (/nonexistent/vhci): "
                   "there is no such file or folder (vhci needs Linux with Bluetooth and "
                   "/dev/vhci; or give --hci tcp-server:HOST:PORT)")
