"""Reading the CSV recordings that `corecue replay` takes, with errors a person can act on.

Each problem is reported as one line naming the file, the line and what is wrong (RecordingError),
so the command can print it and exit 2 instead of showing a traceback."""
import csv

PHASES = ("rest", "brace", "pause")
# Calibration must follow the procedure: rest first, then braces separated by pauses.
_NEXT = {None: ("rest",), "rest": ("rest", "brace"), "brace": ("brace", "pause"),
         "pause": ("pause", "brace")}


class RecordingError(Exception):
    pass


def _unreadable(e):
    if isinstance(e, UnicodeDecodeError):
        return "not text (a recording is a CSV text file; is this the right file?)"
    return "not CSV as expected (one recording per file, cells separated by commas)"


def _rows(path, columns):
    try:
        f = open(path, newline="")
    except OSError as e:
        from corecue.link.oserrors import sentence
        raise RecordingError(sentence(e, path, "read")) from None
    with f:
        reader = csv.reader(f)
        try:
            header = next(reader, None)
        except (csv.Error, UnicodeDecodeError) as e:
            raise RecordingError(f"{path}: line 1: {_unreadable(e)}") from None
        if header is None:
            raise RecordingError(f"{path}: empty file (expected header {','.join(columns)})")
        header = [h.strip() for h in header]
        missing = [c for c in columns if c not in header]
        if missing:
            raise RecordingError(f"{path}: line 1: missing column {', '.join(missing)} "
                                 f"(header must be {','.join(columns)})")
        idx = [header.index(c) for c in columns]
        try:
            for row in reader:
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) < len(header):
                    raise RecordingError(f"{path}: line {reader.line_num}: expected "
                                         f"{len(header)} cells, found {len(row)}")
                yield reader.line_num, [row[i].strip() for i in idx]
        except (csv.Error, UnicodeDecodeError) as e:
            raise RecordingError(f"{path}: line {reader.line_num}: {_unreadable(e)}") from None


def _int(path, line, name, text, lo, hi):
    try:
        v = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise RecordingError(f"{path}: line {line}: {name} is not a number: {text!r}") from None
        if f != int(f):
            raise RecordingError(f"{path}: line {line}: {name} must be a whole number: {text!r}")
        v = int(f)
    if not lo <= v <= hi:
        raise RecordingError(f"{path}: line {line}: {name} {v} out of range {lo}..{hi}")
    return v


def read_samples(path, rate_hz, with_phase=False, allow_gaps=False):
    """Read t_ms,adc[,phase] rows. Returns (t_ms list, adc list, phase list or None).

    A step in t_ms of more than one and a half sample periods is a gap: the chain would join the
    two sides as if no time had passed, so it is an error unless allow_gaps."""
    cols = ["t_ms", "adc", "phase"] if with_phase else ["t_ms", "adc"]
    ts, adc, phases, lines = [], [], [], []
    prev_phase = None
    want = 1000.0 / rate_hz
    for line, cells in _rows(path, cols):
        t = _int(path, line, "t_ms", cells[0], 0, 10 ** 12)
        if ts and t <= ts[-1]:
            raise RecordingError(f"{path}: line {line}: time not increasing "
                                 f"({t} ms after {ts[-1]} ms); rows must be sorted by t_ms")
        ts.append(t)
        lines.append(line)
        adc.append(_int(path, line, "adc", cells[1], 0, 4095))
        if with_phase:
            ph = cells[2].lower()
            if ph not in PHASES:
                raise RecordingError(f"{path}: line {line}: phase must be rest, brace or pause, "
                                     f"not {cells[2]!r}")
            if ph not in _NEXT[prev_phase]:
                raise RecordingError(f"{path}: line {line}: phase {ph} cannot follow "
                                     f"{prev_phase or 'the start'} (order: rest, then braces "
                                     f"separated by pauses)")
            prev_phase = ph
            phases.append(ph)
    if not ts:
        raise RecordingError(f"{path}: no samples after the header")
    if len(ts) > 1:
        steps = sorted(b - a for a, b in zip(ts, ts[1:]))
        typical = steps[len(steps) // 2]
        if abs(typical - want) > 0.05 * want:
            raise RecordingError(f"{path}: samples are {typical:.3g} ms apart; this "
                                 f"sensor mode expects {want:.3g} ms ({rate_hz} Hz)")
        for i in range(1, len(ts)):
            if ts[i] - ts[i - 1] > 1.5 * want and not allow_gaps:
                raise RecordingError(f"{path}: line {lines[i]}: a gap of {ts[i] - ts[i - 1]} ms "
                                     f"after {ts[i - 1]} ms (samples are {want:.3g} ms apart); "
                                     f"replay would join its two sides: cut the recording "
                                     f"there, or give --allow-gaps")
        period = sample_period(ts, rate_hz)
        if abs(period - want) > 0.05 * want:
            raise RecordingError(f"{path}: samples are {period:.3g} ms apart on average; this "
                                 f"sensor mode expects {want:.3g} ms ({rate_hz} Hz)")
    return ts, adc, (phases if with_phase else None)


def sample_period(ts, rate_hz):
    """Mean step of t_ms (ms) leaving out gaps (steps over 1.5 periods of rate_hz)."""
    limit = 1.5 * 1000.0 / rate_hz
    steps = [b - a for a, b in zip(ts, ts[1:]) if b - a <= limit]
    return sum(steps) / len(steps) if steps else 1000.0 / rate_hz


def gaps(ts, rate_hz):
    """(count, total ms missing) of the gaps in t_ms."""
    step = 1000.0 / rate_hz
    g = [b - a - step for a, b in zip(ts, ts[1:]) if b - a > 1.5 * step]
    return len(g), int(sum(g))
