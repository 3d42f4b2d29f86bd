"""hardware/: the pin table agrees with the firmware's board file, the bill of materials has the
parts the documents rely on, the drawing scripts produce real pictures, and the power budget
meets its targets and is what hardware/power.md quotes."""
import ast
import csv
import importlib.util
import os
import re
import struct
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HW = os.path.join(ROOT, "hardware")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HW, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


boardpins = _load("boardpins")
power_budget = _load("power_budget")


def _read(rel):
    with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
        return f.read()


def png_size(path):
    """(width, height) of a PNG, checking its signature and header chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == PNG_MAGIC, "%s is not a PNG" % path
    assert head[12:16] == b"IHDR", "%s has no IHDR chunk first" % path
    return struct.unpack(">II", head[16:24])


# --- pins ---------------------------------------------------------------------------------------

def test_board_file_defines_the_four_pins():
    consts = boardpins.board_consts()
    for name in ("SENSOR_PIN", "BATTERY_PIN", "MOTOR_PIN", "BUTTON_PIN"):
        assert name in consts, name


def test_pins_csv_agrees_with_the_board_file():
    consts = boardpins.board_consts()
    rows = [r for r in boardpins.pin_rows() if r["const"]]
    by_const = {r["const"]: r for r in rows}
    for name, gpio in consts.items():
        assert name in by_const, "pins.csv has no row for %s" % name
        assert by_const[name]["gpio"] == gpio, \
            "%s: pins.csv says GPIO%s, the board file GPIO%d" % (name, by_const[name]["gpio"], gpio)
        assert by_const[name]["status"] == "firmware", name
    for r in rows:
        if r["status"] == "firmware":
            assert r["const"] in consts, "%s is marked firmware but the board file lacks it" \
                % r["const"]


def test_proposed_pins_are_free_xiao_pins():
    rows = boardpins.pin_rows()
    used = [r["gpio"] for r in rows if r["gpio"] is not None]
    assert len(used) == len(set(used)), "two signals on one GPIO"
    for r in rows:
        if r["status"] == "proposed":
            assert r["gpio"] in boardpins.XIAO_LABEL, r["const"]
            assert r["const"] not in boardpins.board_consts() or \
                boardpins.board_consts()[r["const"]] == r["gpio"]


def test_xiao_labels_match_gpio_numbers():
    for r in boardpins.pin_rows():
        if r["gpio"] is not None:
            assert boardpins.XIAO_GPIO[r["xiao_pin"]] == r["gpio"], r["signal"]


def test_analog_inputs_are_on_adc1():
    for r in boardpins.pin_rows():
        if r["direction"].startswith("analog"):
            assert r["gpio"] in boardpins.ADC1_GPIOS, "%s is not an ADC1 pin" % r["signal"]


def test_readme_wiring_table_matches_pins_csv():
    readme = _read("hardware/README.md")
    for r in boardpins.pin_rows():
        if r["gpio"] is not None:
            assert re.search(r"\|\s*%s\s*\|\s*%d\s*\|" % (r["xiao_pin"], r["gpio"]), readme), \
                "hardware/README.md lacks the row for %s (%s, GPIO%d)" % (
                    r["const"], r["xiao_pin"], r["gpio"])


# --- bill of materials --------------------------------------------------------------------------

BOM_COLUMNS = ["ref", "part", "part_number", "quantity", "purpose", "approx_price_usd",
               "variant", "alternatives"]


def bom():
    with open(os.path.join(HW, "bom.csv"), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == BOM_COLUMNS
        return list(reader)


def test_bom_parses_with_the_required_columns():
    rows = bom()
    assert len(rows) >= 20
    for r in rows:
        assert None not in r, "a row has more fields than the header: %s" % r["ref"]
        for col in ("ref", "part", "part_number", "quantity", "purpose", "variant"):
            assert r[col].strip(), "%s: empty %s" % (r["ref"], col)
        assert float(r["approx_price_usd"]) >= 0
        assert r["variant"] in ("core", "emg", "stretch", "alt")
    refs = [r["ref"] for r in rows]
    assert len(refs) == len(set(refs))


@pytest.mark.parametrize("needle", [
    "113991114",            # Seeed XIAO ESP32S3
    "DEV-21265",            # MyoWare 2.0
    "AO3400A",              # motor driver
    "1N5819",               # flyback diode
    "Red Dot 2560",         # electrodes
    "DRV2605L",             # the LRA alternative
    "Adafruit 519",         # stretch cord
])
def test_bom_has_the_core_parts(needle):
    assert any(needle in r["part"] or needle in r["part_number"] for r in bom()), needle


def test_bom_covers_battery_button_divider_belt_enclosure():
    text = " ".join(r["part"] + " " + r["purpose"] for r in bom()).lower()
    for word in ("lipo", "button", "battery divider", "belt", "enclosure", "vibration motor"):
        assert word in text, word


# --- pictures -----------------------------------------------------------------------------------

def _run_script(script, tmp_path):
    out = tmp_path / (script.replace(".py", ".png"))
    p = subprocess.run([sys.executable, os.path.join(HW, script), "-o", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 0, p.stderr
    w, h = png_size(str(out))
    assert 800 <= w <= 6000 and 500 <= h <= 6000, (w, h)
    assert out.stat().st_size > 20000       # a drawing, not an empty canvas
    return out


def test_schematic_script_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed in this environment "
                        "(the drawing needs matplotlib==3.11.2)")
    pytest.importorskip("schemdraw", reason="schemdraw is not installed in this environment "
                        "(the drawing needs schemdraw==0.23)")
    _run_script("schematic.py", tmp_path)


def test_placement_script_draws_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed in this environment "
                        "(the drawing needs matplotlib==3.11.2)")
    _run_script("placement.py", tmp_path)


@pytest.mark.parametrize("name", ["schematic.png", "placement.png"])
def test_committed_pictures_are_pngs(name):
    w, h = png_size(os.path.join(HW, name))
    assert w >= 800 and h >= 500


# --- placement codes ----------------------------------------------------------------------------

def placements():
    """PLACEMENTS from hardware/placement.py, read without importing matplotlib."""
    tree = ast.parse(_read("hardware/placement.py"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "PLACEMENTS":
            return ast.literal_eval(node.value)
    raise AssertionError("placement.py has no PLACEMENTS")


def test_placement_codes_fit_the_config_field():
    codes = [p[0] for p in placements()]
    assert len(codes) == len(set(codes))
    assert all(0 <= c <= 255 for c in codes)
    assert codes[0] == 0 and 255 in codes


def test_electrodes_md_table_matches_placement_codes():
    md = _read("hardware/electrodes.md")
    table = dict(re.findall(r"^\|\s*(\d+)\s*\|\s*([^|]+?)\s*\|", md, re.M))
    for code, name, _sensor, _where in placements():
        assert str(code) in table, "electrodes.md lacks code %d" % code
        assert table[str(code)] == name, (code, table[str(code)], name)
    assert len(table) == len(placements())


# --- power --------------------------------------------------------------------------------------

def test_power_budget_meets_the_targets():
    s = power_budget.summary()
    assert s["run_h_worst"] >= 8.0, "a marathon plus margin on an aged cell in the cold"
    assert s["standby_days_worst"] >= 28, "weeks of standby"
    assert s["idle_awake_h"] < 48, "the budget must show why the belt has to sleep"


def test_power_md_quotes_the_budget():
    md = _read("hardware/power.md")
    s = power_budget.summary()
    for key, fmt in (("run_h_typical", "%.1f h"), ("run_h_worst", "%.1f h"),
                     ("run_ma_typical", "%.1f mA"), ("run_ma_worst", "%.1f mA"),
                     ("standby_days_typical", "%.0f days"), ("standby_days_worst", "%.0f days"),
                     ("run_ble_h_worst", "%.1f h")):
        assert fmt % s[key] in md, "power.md does not quote %s = %s" % (key, fmt % s[key])
    assert "%d mAh" % power_budget.BATTERY_MAH in md
