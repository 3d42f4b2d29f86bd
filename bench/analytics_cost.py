"""What the companion's analytics cost for one hour of frames: decoding the belt's file (the
firmware's own reader) and `analytics.summarize`, against a named baseline measured in the same
run: the same time-in-band figures from a plain Python loop over the frames.

    .venv/bin/python bench/analytics_cost.py
"""
import io
import statistics
import sys
import time

from corecue.history import analytics, sessiondata

import onehour  # bench/, the script's folder


def median_ms(fn, repeats=7):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def loop_in_band(sd):
    """Baseline: judged, in, under and over seconds frame by frame, in plain Python."""
    low, _, high = sd.band
    counts = [0, 0, 0, 0]
    for e, q in zip(sd.effort.tolist(), sd.quality.tolist()):
        if q or e != e:             # flagged, or NaN (no value)
            continue
        counts[0] += 1
        counts[1 if low <= e <= high else (2 if e < low else 3)] += 1
    return [c * sd.frame_ms / 1000 for c in counts]


def main():
    f = io.BytesIO()
    onehour.write_hour(f, 1)
    raw = f.getvalue()
    sd = sessiondata.decode(raw)
    s = analytics.summarize(sd)
    # Both ways must give the same figures, or the comparison means nothing (the file has no
    # state events, so the whole session is the run).
    assert loop_in_band(sd) == [s.judged_s, s.in_band_s, s.under_s, s.over_s]
    rows = [("decode the file (firmware's sessionread)",
             median_ms(lambda: sessiondata.decode(raw))),
            ("analytics.summarize (numpy)", median_ms(lambda: analytics.summarize(sd))),
            ("baseline: time in band in a Python loop", median_ms(lambda: loop_in_band(sd)))]
    print(f"one hour: {sd.frames} frames, {len(raw)} bytes; medians of 7")
    print("| step | ms |")
    print("|---|---|")
    for what, ms in rows:
        print(f"| {what} | {ms:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
