# JSON and nothing else, on both interpreters: the config file's body (belt.config) and a
# config_set's changes (belt.commands) are read with loads().
#
#   value = loads(text)     # ValueError for anything that is not one JSON value
#
import json

from micropython import const

# MicroPython's json.loads takes far more than JSON (commas and colons anywhere or nowhere,
# "01", unknown escapes): '{"low_pm": 150,}' was a change on the belt and "not JSON" under CPython.
# Text is checked against JSON's grammar first, so both interpreters take exactly JSON.
_DEPTH_MAX = const(16)      # the config nests 3 deep; deeper is refused before any recursion


def _ws(s, i):
    while i < len(s) and s[i] in " \t\n\r":
        i += 1
    return i


def _string(s, i):
    i += 1                                      # the opening quote
    while True:
        c = s[i]
        if c == '"':
            return i + 1
        if c == "\\":
            e = s[i + 1]
            if e == "u":
                if len(s[i + 2:i + 6]) != 4 or not all(h in "0123456789abcdefABCDEF"
                                                       for h in s[i + 2:i + 6]):
                    raise ValueError
                i += 6
            elif e in '"\\/bfnrt':
                i += 2
            else:
                raise ValueError
        elif ord(c) < 0x20:
            raise ValueError
        else:
            i += 1


def _digits(s, i):
    j = i
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    if j == i:
        raise ValueError
    return j


def _number(s, i):
    if s[i] == "-":
        i += 1
    i = i + 1 if s[i] == "0" else _digits(s, i)
    if i < len(s) and s[i] == ".":
        i = _digits(s, i + 1)
    if i < len(s) and s[i] in "eE":
        i += 1
        if i < len(s) and s[i] in "+-":
            i += 1
        i = _digits(s, i)
    return i


def _value(s, i, depth):
    """The index after the JSON value at s[i] (whitespace before it skipped); ValueError or
    IndexError when there is none."""
    i = _ws(s, i)
    c = s[i]
    if c in "{[":
        if depth >= _DEPTH_MAX:
            raise ValueError
        close = "}" if c == "{" else "]"
        i = _ws(s, i + 1)
        if s[i] == close:
            return i + 1
        while True:
            if c == "{":
                i = _ws(s, i)
                if s[i] != '"':
                    raise ValueError
                i = _ws(s, _string(s, i))
                if s[i] != ":":
                    raise ValueError
                i += 1
            i = _ws(s, _value(s, i, depth + 1))
            if s[i] == close:
                return i + 1
            if s[i] != ",":
                raise ValueError
            i += 1
    if c == '"':
        return _string(s, i)
    if c == "-" or "0" <= c <= "9":
        return _number(s, i)
    for word in ("true", "false", "null"):
        if s[i:i + len(word)] == word:
            return i + len(word)
    raise ValueError


def loads(text):
    """json.loads of text that is JSON; ValueError for anything else, on both interpreters."""
    try:
        end = _ws(text, _value(text, 0, 0))
    except IndexError:
        raise ValueError("not JSON")
    if end != len(text):
        raise ValueError("not JSON")
    return json.loads(text)
