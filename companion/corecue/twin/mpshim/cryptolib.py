"""CPython stand-in for MicroPython's `cryptolib` (extmod/modcryptolib.c), on the `cryptography`
package's AES, so the belt's ciphers run under CPython (the virtual belt, the CPython half of the
firmware tests).

As strict as the builds the belt runs on: ECB only (mode 1). CTR (6) is refused with the same
ValueError("mode") as a build without MICROPY_PY_CRYPTOLIB_CTR (the ESP32 and unix ports); CBC
(2) exists on the device but the firmware does not use it, so it fails loudly here rather than
being emulated untested. Keys of 16 or 32 bytes, whole blocks, and one object either encrypts or
decrypts, never both ("can't encrypt & decrypt"), as on the device.
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_ECB = 1
_CBC = 2


class aes:  # noqa: N801 -- MicroPython's name
    def __init__(self, key, mode, iv=None):
        if mode == _CBC:
            raise NotImplementedError("cryptolib shim: CBC is not emulated (the belt uses ECB)")
        if mode != _ECB:
            raise ValueError("mode")
        key = bytes(key)
        if len(key) not in (16, 32):
            raise ValueError("key")
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())
        self._dir = None

    def _process(self, encrypt, in_buf, out_buf):
        data = bytes(in_buf)
        if len(data) % 16:
            raise ValueError("blksize % 16")
        if out_buf is not None and len(out_buf) < len(data):
            raise ValueError("output too small")
        if self._dir is None:
            self._dir = encrypt
        elif self._dir != encrypt:
            raise ValueError("can't encrypt & decrypt")
        ctx = self._cipher.encryptor() if encrypt else self._cipher.decryptor()
        out = ctx.update(data) + ctx.finalize()
        if out_buf is None:
            return out
        out_buf[:len(out)] = out
        return out_buf

    def encrypt(self, in_buf, out_buf=None):
        return self._process(True, in_buf, out_buf)

    def decrypt(self, in_buf, out_buf=None):
        return self._process(False, in_buf, out_buf)
