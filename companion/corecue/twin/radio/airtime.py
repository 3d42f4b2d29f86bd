"""Air time and NimBLE's buffers for the emulated peripheral's notifications.

On an ESP32 a notification's bytes wait in NimBLE's mbufs until the controller sends them in one
of the connection's events; when the pool is empty `ble_hs_mbuf_from_flat` returns NULL and
`gatts_notify` raises OSError(ENOMEM) (extmod/nimble/modbluetooth_nimble.c,
`mp_bluetooth_gatts_notify_indicate`). The pool is MSYS_1: 12 blocks of 256 bytes on an
ESP32-S3 (ESP-IDF's defaults for `CONFIG_BT_NIMBLE_MSYS_1_BLOCK_COUNT` / `_BLOCK_SIZE`, which
MicroPython's ports/esp32/boards/sdkconfig.ble leaves as they are). A block holds what is left
after the mbuf header (and, in a packet's first block, the packet header), so a full
notification at an MTU of 247 takes two.

Here each notification holds its blocks until its connection event: one every connection
interval (the link's own parameters), which carries as many as fit in its air time: the 1M PHY,
LE data packets of up to 251 bytes, each answered by an empty packet, 150 us between them, the
event ending 1.25 ms before the next. Stricter than the chip, which also has the controller's
ACL buffers and the MSYS_2 pool behind MSYS_1, and may use the 2M PHY.
"""
from __future__ import annotations

import collections
import errno as _errno

MSYS_BLOCKS = 12
MSYS_BLOCK = 256
_MBUF_HDR = 16          # struct os_mbuf
_PKTHDR = 8             # struct os_mbuf_pkthdr, first block only
_L2CAP_HDR = 4
_US_PER_BYTE = 8        # 1M PHY
_LL_OVERHEAD = 10       # preamble, access address, LL header, CRC
_LL_MAX = 251           # LE data length extension
_T_IFS_US = 150
_EMPTY_US = 80          # the peer's empty packet: 10 bytes
_EVENT_MARGIN_US = 1250


def air_us(att_pdu_len: int) -> int:
    """Air time of one ATT PDU in LE data packets, with the peer's empty answers."""
    n = att_pdu_len + _L2CAP_HDR
    us = 0
    while n > 0:
        part = min(n, _LL_MAX)
        us += (part + _LL_OVERHEAD) * _US_PER_BYTE + _T_IFS_US + _EMPTY_US + _T_IFS_US
        n -= part
    return us


def blocks_for(att_pdu_len: int) -> int:
    """MSYS_1 blocks an ATT PDU of this length takes with its L2CAP header."""
    n = att_pdu_len + _L2CAP_HDR
    first = MSYS_BLOCK - _MBUF_HDR - _PKTHDR
    if n <= first:
        return 1
    rest = MSYS_BLOCK - _MBUF_HDR
    return 1 + (n - first + rest - 1) // rest


class Airtime:
    """The buffer pool of one emulated stack and the queue of each of its connections."""

    def __init__(self, loop_of):
        self._loop_of = loop_of
        self.free = MSYS_BLOCKS
        self.refused = 0             # notifications refused with ENOMEM (emulation counter)
        # The shortest connection interval used, in us: 7.5 ms, the least the specification
        # allows, unless a test plays a central that asks for longer ones (phones ask for 30-50).
        self.min_interval_us = 7500
        self._queues: dict[int, collections.deque] = {}
        self._timers: dict[int, object] = {}

    def send(self, conn, pdu: bytes, deliver) -> None:
        """Take the blocks for pdu now (OSError(ENOMEM) if there are not enough) and call
        deliver() in the connection's next event with room."""
        need = blocks_for(len(pdu))
        if need > self.free:
            self.refused += 1
            raise OSError(_errno.ENOMEM, "ENOMEM")
        self.free -= need
        self._queues.setdefault(conn.handle, collections.deque()).append(
            (deliver, need, air_us(len(pdu))))
        if conn.handle not in self._timers:
            self._arm(conn)

    def _interval_us(self, conn) -> int:
        return max(int(conn.parameters.connection_interval * 1000), self.min_interval_us)

    def _arm(self, conn) -> None:
        self._timers[conn.handle] = self._loop_of().call_later(
            self._interval_us(conn) / 1e6, self._event, conn)

    def _event(self, conn) -> None:
        self._timers.pop(conn.handle, None)
        q = self._queues.get(conn.handle)
        budget = self._interval_us(conn) - _EVENT_MARGIN_US
        while q and q[0][2] <= budget:
            deliver, need, us = q.popleft()
            budget -= us
            self.free += need
            try:
                deliver()
            except Exception:       # the link went in between: the bytes are lost, as on air
                pass
        if q:
            self._arm(conn)

    def drop(self, conn_handle: int) -> None:
        """The connection has gone: what waited for it is lost and its blocks are free."""
        timer = self._timers.pop(conn_handle, None)
        if timer is not None:
            timer.cancel()
        for _, need, _ in self._queues.pop(conn_handle, ()):
            self.free += need

    def reset(self) -> None:
        for handle in list(self._queues):
            self.drop(handle)
        self.free = MSYS_BLOCKS
