"""Calibration verdicts in words (views/calreport.py): every reason the belt can give, and one a
newer belt gives that this companion does not know."""
from types import SimpleNamespace

from corecue.interp import firmware_module
from corecue.views.calreport import verdict_text

_cal = firmware_module("belt.calibration")


def _verdict(reasons, spread_pm=0):
    return verdict_text(SimpleNamespace(reasons=reasons, spread_pm=spread_pm))


def test_every_reason_the_belt_gives_has_its_words():
    for i, name in enumerate(_cal.REASONS):
        text = _verdict(1 << i, spread_pm=250)
        assert text and "does not know" not in text, (name, text)
    assert _verdict(_cal.R_REST_BRACED) == ("you were not relaxed during the rest: let the belly "
                                            "go soft for the whole 10 s")
    assert _verdict(_cal.R_TOO_SHORT) == ("your braces were too brief to measure: hold each one "
                                          "at full strength for about 5 s")
    assert _verdict(0) == "good calibration"


def test_a_reason_from_a_newer_belt_is_said_not_dropped():
    text = _verdict(_cal.R_TOO_FEW | 128)
    assert text.startswith("some phases were too short")
    assert text.endswith("refused for a reason this corecue does not know (code 128): "
                         "update corecue")
