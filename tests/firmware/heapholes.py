# The heap in pieces, as hours of BLE traffic, runs and syncs leave it: under MicroPython only
# (CPython has no such heap). test_sessionbuffers and bench/session_start_heap_mpy.py start a
# session on it.
import gc


def pieces(hole):
    """Fill the free heap with hole-byte pieces and what is left with 16-byte ones, then free
    every other hole-byte piece: no free block larger than hole is left. Returns what holds the
    rest; drop it to have the heap back."""
    gc.collect()
    head = None
    try:
        while True:
            head = [head, bytearray(hole)]
    except MemoryError:
        pass
    try:
        while True:                     # what is left over, in pieces too small to use
            head = [head, bytearray(16)]
    except MemoryError:
        pass
    node, i = head, 0
    while node is not None:
        if node[1] is not None and len(node[1]) == hole:
            if i % 2:
                node[1] = None
            i += 1
        node = node[0]
    gc.collect()
    return head
