"""CPython stand-in for MicroPython's `micropython` module, so the unchanged firmware runs under
CPython (the replay tool's --interpreter cpython, and the CPython half of every firmware test).

Decorators are identities: viper/native code is plain Python here, and because the firmware keeps
its integers inside 31 bits, both interpreters compute the same numbers. heap_lock() cannot be
enforced in CPython; allocation tests are meaningful only on MicroPython and say so.
"""
import builtins

# Viper's pointer and integer casts are compiler names on MicroPython. The firmware only indexes
# through them, which arrays and bytearrays already do.
for _name in ("ptr", "ptr8", "ptr16", "ptr32"):
    setattr(builtins, _name, lambda obj: obj)
builtins.uint = int


def const(value):
    return value


def native(fn):
    return fn


def viper(fn):
    return fn


def heap_lock():
    return 0


def heap_unlock():
    return 0


def schedule(fn, arg):
    fn(arg)


def alloc_emergency_exception_buf(size):
    pass
