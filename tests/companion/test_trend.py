"""corecue.history.trend: a direction only with enough runs over enough days, and endurance as
the brace holding (last third against first), never as run length; the trend page says the
same as the command."""
import dataclasses
import json
import os

import pytest
from test_analytics import step_run

from corecue.history import analytics as A
from corecue.history import trend as T
from corecue.views.report import ReportError
from corecue.views.trendreport import trend_report

DAY = 86400.0
T0 = 1767225600.0


@pytest.fixture(scope="module")
def base():
    return A.summarize(step_run())


def runs(base, days, pct, last):
    return [dataclasses.replace(base, session_id=k + 1, start_utc=T0 + d * DAY, pct_in_band=p,
                                first_third_pct=100.0, last_third_pct=q)
            for k, (d, p, q) in enumerate(zip(days, pct, last))]


def test_slopes_per_run_and_per_week(base):
    ss = runs(base, [0, 7, 14, 21], [50, 60, 70, 80], [40, 50, 60, 70])
    tr = T.trend(list(reversed(ss)))                        # any order in, oldest first
    assert [p.session_id for p in tr.points] == [1, 2, 3, 4]
    assert tr.not_enough is None and tr.not_enough_weekly is None
    assert tr.in_band_per_run == pytest.approx(10.0) and tr.in_band_per_week == pytest.approx(10)
    assert tr.holding_per_run == pytest.approx(10.0) and tr.holding_per_week == pytest.approx(10)
    assert [p.holding for p in tr.points] == [-60, -50, -40, -30]
    json.dumps(tr.as_dict())


def test_a_longer_run_is_not_more_endurance(base):
    """Four runs that hold the same (last third as good as the first), each longer than the
    last: no endurance trend at all."""
    ss = [dataclasses.replace(s, run_s=600.0 * (k + 1)) for k, s in
          enumerate(runs(base, [0, 7, 14, 21], [80] * 4, [100] * 4))]
    tr = T.trend(ss)
    assert tr.holding_per_run == pytest.approx(0.0) and tr.holding_per_week == pytest.approx(0)


def test_not_enough_runs_or_days_or_weeks(base):
    one_morning = runs(base, [0, 0.01, 0.02, 0.03, 0.04], [10, 20, 30, 40, 90], [0] * 5)
    tr = T.trend(one_morning)
    assert tr.in_band_per_run is None and tr.in_band_per_week is None
    assert tr.not_enough == ("not enough runs yet for a trend: 5 runs on 1 day (it takes 4 runs "
                             "on 3 different days)")
    assert T.trend_text(tr) == tr.not_enough
    three = T.trend(runs(base, [0, 7, 14], [10, 20, 30], [0] * 3))
    assert three.not_enough.startswith("not enough runs yet for a trend: 3 runs on 3 days")
    ten_days = T.trend(runs(base, [0, 3, 6, 10], [10, 20, 30, 40], [0] * 4))
    assert ten_days.in_band_per_run == pytest.approx(10.0) and ten_days.in_band_per_week is None
    assert "10 days from the first run to the last (it takes 14)" in ten_days.not_enough_weekly
    text = T.trend_text(ten_days)
    assert "in band: +10.0 points per run;" in text and "per week" not in text.split("(")[0]


def test_runs_without_judged_time_or_start_are_left_out(base):
    ss = runs(base, [0, 7, 14, 21], [50, 60, 70, 80], [40, 50, 60, 70])
    ss.append(dataclasses.replace(base, session_id=9, start_utc=T0 + DAY, judged_s=0.0,
                                  pct_in_band=None))
    ss.append(dataclasses.replace(base, session_id=8, start_utc=None))
    assert [p.session_id for p in T.trend(ss).points] == [1, 2, 3, 4]


def test_the_page_says_what_the_command_says(base, tmp_path):
    tr = T.trend(runs(base, [0, 7, 14, 21], [50, 60, 70, 80], [40, 50, 60, 70]))
    png, page = trend_report(tr, str(tmp_path))
    text = open(page, encoding="utf-8").read()
    assert T.trend_text(tr) in text and os.path.getsize(png) > 20_000
    few = T.trend(runs(base, [0], [50], [40]))
    png, page = trend_report(few, str(tmp_path / "few"))
    text = open(page, encoding="utf-8").read()
    assert "not enough runs yet" in text and "per run" not in text
    with pytest.raises(ReportError) as e:
        trend_report(T.trend([]), str(tmp_path / "none"))
    assert "\n" not in str(e.value) and not (tmp_path / "none").exists()
