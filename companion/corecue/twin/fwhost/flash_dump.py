# Copies the files of a virtual belt's flash (a folder, or the sim board's LittleFS image) to a host folder,
# so the companion and the tests can read what the belt wrote, byte for byte.
#
#   micropython flash_dump.py FIRMWARE_DIR FLASH_DIR OUT_DIR
import os
import sys

sys.path.insert(0, sys.argv[1])
from boards import simflash  # noqa: E402


def copy_tree(src, dst):
    try:
        os.mkdir(dst)
    except OSError:
        pass
    for name, kind, *_ in os.ilistdir(src):
        if kind == 0x4000:
            copy_tree(src + "/" + name, dst + "/" + name)
            continue
        with open(src + "/" + name, "rb") as f, open(dst + "/" + name, "wb") as g:
            while True:
                chunk = f.read(4096)
                if not chunk:
                    break
                g.write(chunk)
        print("%s/%s" % (dst, name))


try:
    root = simflash.mount(sys.argv[2], create=False)
except OSError:
    print("no virtual belt in %s" % sys.argv[2])
    sys.exit(2)
copy_tree(root, sys.argv[3])
