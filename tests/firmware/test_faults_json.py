# The fuzzing of the command handler (tests/test_faults_commands.py) found the two interpreters
# answering one config_set differently: MicroPython's json.loads takes far more than JSON (commas
# and colons anywhere or nowhere, "01", unknown escapes), so '{"low_pm": 150,}' changed the config
# on the belt and was "not JSON" under CPython. belt.config.loads takes exactly JSON on both.
from fwtest import eq, raises

import beltrig as rig
from belt import config as _config
from belt import protocol as P
from belt.commands import Commands

NOT_JSON = (",1", " ,1", "1,", "[1,]", "[,1]", "[1,,2]", "[1 2]", "{,}", '{"a":1,}', '{"a" 1}',
            '{"a":1 "b":2}', '{"a":,1}', "01", "-01", "1.", ".5", "1e", "+1", '"\\x41"',
            '"\\u12"', '"a\tb"', "tru", "nul", "[1]x", '{"a":1}}', "{'a':1}", "", " ", "[" * 600,
            '{"low_pm": 150,}')
JSON = ('{"low_pm": 150}', "[]", "{}", " [1, 2.5e-3, -0, true, false, null] ", '"\\u00e9\\n"',
        '{"a": {"b": [1, {"c": "d"}]}}', "0", "-1.0E+2")


def test_config_loads_takes_json_and_nothing_else():
    for text in NOT_JSON:
        eq(type(raises(ValueError, _config.loads, text)), ValueError, "refused: %r" % text)
    for text in JSON:
        eq(_config.loads(text) is not None or text.strip() == "null", True, "taken: %r" % text)


def test_a_config_set_that_is_not_json_is_refused_and_changes_nothing():
    board, app, _ = rig.boot(rig.fresh("strictjson"))
    cmd = Commands(app)
    before = app.config.dumps()
    for text in ('{"low_pm": 150,}', '{"low_pm" 150}', '{"low_pm": 0150}', ",{}"):
        got = rig.reply(cmd.handle(P.request("config_set", 3, tail=text.encode())))
        eq((got[0], got[2]), ("ERROR", P.E_MALFORMED), "refused: %s" % text)
    eq(app.config.dumps(), before, "the config as it was")
    got = rig.reply(cmd.handle(P.request("config_set", 4, tail=b'{"low_pm": 150}')))
    eq(got[0] != "ERROR", True, "JSON is taken: %r" % (got,))
