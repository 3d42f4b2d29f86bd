# Fills a virtual belt's flash (the sim board's LittleFS image) with a ballast file outside the
# session store, until exactly FREE bytes are left, as a belt with a nearly full flash would be.
# Run by the MicroPython interpreter while the belt is not running:
#
#   micropython flash_fill.py FIRMWARE_DIR FLASH_DIR FREE
import os
import sys

sys.path.insert(0, sys.argv[1])
from boards import simflash  # noqa: E402

root = simflash.mount(sys.argv[2], image=True)
target = int(sys.argv[3])


def free():
    st = os.statvfs(root)
    return st[1] * st[4]


# Half the gap at a time, then 256 bytes: free space is counted in whole blocks, so the last
# pieces land it exactly on a block boundary (statvfs walks the file system: few calls).
piece = bytes(b"\xa5" * 4096)
with open(root + "/ballast", "ab") as f:
    left = free()
    while left > target:
        n = (left - target) // 2
        n = 256 if n < 8192 else n
        while n > 0:
            k = n if n < 4096 else 4096
            f.write(piece[:k])
            n -= k
        f.flush()
        left = free()
print(left)
