"""Reading a session off the belt (docs/protocol.md, session_read): windowed, acknowledged once per
window, re-read from the last contiguous byte after a lost chunk or a silent stall, and checked
against the CRC32 in the belt's session list. What has arrived stays in `belt.partial` so that an
interrupted download can be resumed."""
import asyncio
import zlib

from corecue.interp import firmware_module
from corecue.link.errors import BadReply, BeltError, BeltTimeout, DownloadError, WrongState
from corecue.link.records import DownloadStats

P = firmware_module("belt.protocol")
DOWNLOAD_RETRIES = 5


def max_chunk(belt):
    cap = belt.info.max_payload if belt.info else P.MAX_PAYLOAD
    return min(cap, P.MAX_PAYLOAD) - 8            # data event: u32 id, u32 offset


async def download(belt, sid, offset=0, window=8, chunk=None, have=b"", progress=None,
                   verify=True):
    """The bytes of session sid. Reads from `offset` (resuming: `have` holds the first
    `offset` bytes), with at most `window` chunks of `chunk` bytes in flight, acknowledging
    once per window (when a whole window has arrived): one round trip per window, however
    fast or slow the link. (Acking every half window would overlap the ack with the rest of
    the window on a slow link, but on a fast one the belt has sent the whole window before the
    first ack arrives and then waits for both.) A lost chunk re-reads from the last
    contiguous offset.
    With verify, the file's CRC32 must match the belt's session list, else DownloadError.
    progress(received, size) is called as chunks arrive."""
    if offset != len(have):
        raise ValueError(f"resuming at {offset} needs the {offset} bytes already held")
    if not 1 <= window <= 0xFFFF:
        raise ValueError(f"window of {window} chunks")
    chunk = chunk or max_chunk(belt)
    if not 1 <= chunk <= max_chunk(belt):
        raise ValueError(f"chunk of {chunk} bytes (at most {max_chunk(belt)})")
    entry = await belt.session(sid) if verify else None
    if entry is not None and entry.open:
        raise WrongState("session_read", P.E_STATE, "open",
                         text=f"session {sid} is still being recorded: stop it first")
    stats = DownloadStats(window=window, chunk=chunk, start=offset)
    belt.last_download = stats
    buf = bytearray(have)
    # What has arrived so far, contiguous from 0, for whoever wants to keep it when the
    # download is interrupted (a dropped link, Ctrl-C) and resume later.
    belt.partial = (sid, buf)
    arrived = asyncio.Event()
    pending = []

    def on_data(ev):
        if ev.session == sid:
            pending.append(ev)
            arrived.set()

    unsubscribe = belt.subscribe("data", on_data)
    belt._on_lost.append(arrived.set)
    try:
        ack_every = window
        (rid, size), _ = await belt.request("session_read", sid, len(buf), window, chunk)
        if rid != sid:
            raise BadReply(f"asked for session {sid}, the belt reads {rid}")
        stats.size = size
        if entry is not None and size != entry.size:
            raise DownloadError(f"session {sid}: read says {size} bytes, list says "
                                f"{entry.size}")
        since_ack = 0
        reread = False
        retries = 0
        while len(buf) < size:
            if not pending:
                arrived.clear()
                try:
                    async with asyncio.timeout(belt.timeout):   # not wait_for: see Channel.request
                        await arrived.wait()
                except TimeoutError:
                    retries += 1
                    if retries > DOWNLOAD_RETRIES:
                        raise BeltTimeout(
                            f"the belt stopped sending session {sid} at byte {len(buf)} of "
                            f"{size} ({DOWNLOAD_RETRIES} re-reads, {belt.timeout:g} s "
                            "each)") from None
                    await _reread(belt, sid, buf, window, chunk, stats)
                    reread = True
                    continue
                if belt._lost:
                    raise belt._lost
                continue
            ev = pending.pop(0)
            if ev.offset != len(buf) or not ev.data:
                stats.ignored += 1
                if ev.offset > len(buf) and not reread:
                    # A chunk was lost: everything after it is useless until re-read.
                    await _reread(belt, sid, buf, window, chunk, stats)
                    reread = True
                continue
            if len(buf) + len(ev.data) > size:
                raise DownloadError(f"session {sid}: the belt sent more than {size} bytes")
            buf.extend(ev.data)
            stats.chunks += 1
            reread = False
            retries = 0
            since_ack += 1
            if progress:
                progress(len(buf), size)
            if since_ack >= ack_every or len(buf) == size:
                await belt.request("session_ack", sid, len(buf))
                stats.acks += 1
                stats.acked.append(len(buf))
                since_ack = 0
    except BeltError as e:
        e.partial = bytes(buf)
        raise
    finally:
        unsubscribe()
        belt._on_lost.remove(arrived.set)
    data = bytes(buf)
    if entry is not None:
        got = zlib.crc32(data) & 0xFFFFFFFF
        if got != entry.crc:
            raise DownloadError(f"session {sid}: CRC32 {got:08x} of the download differs "
                                f"from the belt's {entry.crc:08x}")
    return data

async def _reread(belt, sid, buf, window, chunk, stats):
    stats.rereads += 1
    await belt.request("session_read", sid, len(buf), window, chunk)
