"""Calibration verdicts in plain words, for the person doing it at home."""

_ADVICE = [
    (1, "no muscle signal: check that the electrodes touch the skin and the sensor is plugged in"),
    (2, "your braces were not clearly stronger than rest: brace as hard as you can"),
    (4, None),  # filled in with the measured spread
    (8, "the sensor clipped during the braces: its gain is too high for your maximum"),
    (16, "some phases were too short: rest 10 s, then three braces of about 5 s"),
    (32, "you were not relaxed during the rest: let the belly go soft for the whole 10 s"),
    (64, "your braces were too brief to measure: hold each one at full strength for about 5 s"),
]


def verdict_text(res):
    """res: anything with .reasons (bitmask) and .spread_pm, e.g. a ReplayResult."""
    if res.reasons == 0:
        return "good calibration"
    parts = []
    for bit, text in _ADVICE:
        if res.reasons & bit:
            if bit == 4:
                text = (f"your three braces differed by {res.spread_pm // 10}%: "
                        "try again, keep the same posture")
            parts.append(text)
    unknown = res.reasons & ~sum(bit for bit, _ in _ADVICE)
    if unknown:     # a newer belt's reason: said, not dropped
        parts.append(f"refused for a reason this corecue does not know (code {unknown}): "
                     "update corecue")
    return "; ".join(parts)
