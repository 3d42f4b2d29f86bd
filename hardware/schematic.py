"""Draw the belt's wiring diagram: python hardware/schematic.py [-o hardware/schematic.png]

The GPIO numbers are read from firmware/boards/xiao_esp32s3.py (via boardpins), so the drawing
follows the firmware; a pin that the board file does not drive yet (status `proposed` in
pins.csv) is drawn in orange with its pins.csv number. Needs schemdraw (and matplotlib for PNG).
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")
import schemdraw  # noqa: E402
import schemdraw.elements as elm  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import boardpins  # noqa: E402

OUT = os.path.join(boardpins.HERE, "schematic.png")
PROPOSED = "#d35400"
NOTE = "#34495e"
NET = "#1f618d"


def pin_text(pins, name):
    label, gpio, status = pins[name]
    return "%s / GPIO%d" % (label, gpio), status


def net(d, at, name, down=False):
    """A named supply net: the T-bar supply symbol with the net name (pointing down: below)."""
    e = elm.Vdd(lead=False).at(at).theta(180 if down else 0)
    e.label(name, loc="bottom" if down else "top", fontsize=11, color=NET)
    return d.add(e)


def gnd(d, at):
    return d.add(elm.Ground(lead=False).at(at).theta(0))


def text(d, xy, s, size=9, color=NOTE, halign="left"):
    return d.add(elm.Label().at(xy).theta(0).label(s, fontsize=size, color=color,
                                                  halign=halign))


def draw(out=OUT):
    pins = boardpins.pin_map()
    for needed in ("SENSOR_PIN", "BATTERY_PIN", "MOTOR_PIN", "BUTTON_PIN"):
        if needed not in pins:
            raise SystemExit("board file has no %s" % needed)
    spin = pins.get("SENSOR_POWER_PIN")
    proposed = bool(spin) and spin[2] == "proposed"
    pcolor = PROPOSED if proposed else None

    schemdraw.config(fontsize=11, lw=1.4)
    d = schemdraw.Drawing(show=False)

    # --- the board: box 0..8 x 0..11 ----------------------------------------------------------
    def ptxt(name):
        return pin_text(pins, name)[0]

    ic_pins = [
        elm.IcPin(name=ptxt("SENSOR_PIN"), pin="SENSOR_PIN", side="left", pos=0.82,
                  anchorname="sensor"),
        elm.IcPin(name=ptxt("BATTERY_PIN"), pin="BATTERY_PIN", side="left", pos=0.2,
                  anchorname="batt"),
        elm.IcPin(name=ptxt("MOTOR_PIN"), pin="MOTOR_PIN", side="right", pos=0.85,
                  anchorname="motor"),
        elm.IcPin(name=ptxt("BUTTON_PIN"), pin="BUTTON_PIN", side="right", pos=0.52,
                  anchorname="button"),
        elm.IcPin(name="3V3", side="top", pos=0.25, anchorname="v33"),
        elm.IcPin(name="BAT+ pad", side="top", pos=0.75, anchorname="batp"),
        elm.IcPin(name="GND", side="bottom", pos=0.25, anchorname="gnd"),
        elm.IcPin(name="BAT- pad", side="bottom", pos=0.75, anchorname="batn"),
    ]
    if spin:
        ic_pins.append(elm.IcPin(
            name=ptxt("SENSOR_POWER_PIN"),
            pin="SENSOR_POWER_PIN" + (" (proposed)" if proposed else ""),
            side="right", pos=0.15, anchorname="spow", color=pcolor))
    xiao = d.add(elm.Ic(pins=ic_pins, size=(8, 11), leadlen=1.0, plblsize=10, lsize=11)
                 .at((0, 0)).theta(0))
    text(d, (4, 5.2), "Seeed Studio\nXIAO ESP32S3\n(113991114)\nLiPo charger on board",
         size=13, color="black", halign="center")
    net(d, xiao.v33, "3V3")
    net(d, xiao.batp, "BAT+")
    gnd(d, xiao.gnd)
    gnd(d, xiao.batn)

    # --- sensor input network and MyoWare (left, upper) ---------------------------------------
    d.add(elm.Line().at(xiao.sensor).left().length(1.5))
    n = d.add(elm.Dot())
    d.add(elm.Capacitor().at(n.center).down().length(2.0).label("10 nF", loc="bottom"))
    gnd(d, d.here)
    d.add(elm.Resistor().at(n.center).up().length(2.4).label("150 kΩ (lift)", loc="bottom"))
    net(d, d.here, "3V3_S")
    d.add(elm.Resistor().at(n.center).left().length(3.0).label("10 kΩ", loc="top"))
    d.add(elm.Line().left().length(1.0))
    sig = d.here
    myo = d.add(elm.Ic(pins=[
        elm.IcPin(name="RAW/ENV", side="right", pos=0.8, anchorname="sig"),
        elm.IcPin(name="VIN", side="bottom", pos=0.3, anchorname="vin"),
        elm.IcPin(name="GND", side="bottom", pos=0.75, anchorname="gnd"),
        elm.IcPin(name="MID", side="left", pos=0.8, anchorname="mid"),
        elm.IcPin(name="END", side="left", pos=0.5, anchorname="end"),
        elm.IcPin(name="REF", side="left", pos=0.2, anchorname="ref"),
    ], size=(6.0, 4.4), leadlen=0.8, plblsize=10, lsize=10).theta(0).anchor("sig").at(sig))
    mx = (myo.mid[0] + myo.sig[0]) / 2 - 0.1
    text(d, (mx, myo.end[1] + 0.1), "MyoWare 2.0\n(DEV-21265)\n+ Link Shield\n+ Cable Shield",
         size=10, color="black", halign="center")
    net(d, myo.vin, "3V3_S", down=True)
    gnd(d, myo.gnd)
    x0 = myo.mid[0] - 5.6
    d.add(elm.Line().at((x0 - 0.4, myo.mid[1])).right().length(0.01).color("white"))
    for anchor in ("mid", "end", "ref"):
        d.add(elm.Line().at(getattr(myo, anchor)).left().length(0.6))
        d.add(elm.Dot(open=True))
    text(d, (x0, myo.end[1] + 0.1),
         "electrodes (electrodes.md):\nMID, END: internal oblique /\n"
         "transversus site, 2 cm medial\nand inferior to the ASIS,\nalong the fibres\n"
         "REF: on the iliac crest", size=10)

    # --- battery divider (left, lower) --------------------------------------------------------
    d.add(elm.Line().at(xiao.batt).left().length(4.0))
    b = d.add(elm.Dot())
    d.add(elm.Resistor().at(b.center).up().length(2.0).label("100 kΩ", loc="bottom"))
    net(d, d.here, "BAT+")
    d.add(elm.Resistor().at(b.center).down().length(2.0).label("100 kΩ", loc="bottom"))
    gnd(d, d.here)
    d.add(elm.Line().at(b.center).left().length(2.0))
    d.add(elm.Capacitor().down().length(2.0).label("100 nF", loc="bottom"))
    gnd(d, d.here)

    # --- motor driver (right, top) ------------------------------------------------------------
    d.add(elm.Line().at(xiao.motor).right().length(0.6))
    d.add(elm.Resistor().right().length(2.2).label("100 Ω", loc="top"))
    g = d.add(elm.Dot())
    d.add(elm.Resistor().at(g.center).down().length(1.8).label("100 kΩ", loc="bottom"))
    gnd(d, d.here)
    d.add(elm.Line().at(g.center).right().length(1.0))
    q1 = d.add(elm.NFet().anchor("gate").reverse())
    text(d, (q1.center[0] + 0.5, q1.center[1] - 0.9), "Q1 AO3400A")
    gnd(d, q1.source)
    d.add(elm.Line().at(q1.drain).up().length(0.7))
    m = d.add(elm.Dot())
    d.add(elm.Motor().up().length(2.2))
    t = d.add(elm.Dot())
    text(d, (m.center[0] + 0.9, (m.center[1] + t.center[1]) / 2),
         "M: coin ERM\n10 mm, 3 V")
    net(d, t.center, "BAT+")
    d.add(elm.Line().at(m.center).left().length(1.4))
    d.add(elm.Schottky().up().length(2.2))   # cathode to BAT+: clamps the motor's kick
    text(d, (d.here[0] - 0.4, m.center[1] + 1.1), "D1\n1N5819", halign="right")
    d.add(elm.Line().right().length(1.4))
    d.add(elm.Line().at(t.center).right().length(3.6))
    d.add(elm.Capacitor(polar=True).down().length(2.2).label("22 µF", loc="bottom"))
    gnd(d, d.here)

    # --- button (right, middle) ---------------------------------------------------------------
    d.add(elm.Line().at(xiao.button).right().length(3.0))
    k = d.add(elm.Dot())
    d.add(elm.Button().down().length(1.8))
    text(d, (k.center[0] + 0.5, k.center[1] - 0.9), "S1")
    gnd(d, d.here)
    d.add(elm.Line().at(k.center).right().length(4.0))
    d.add(elm.Resistor().up().length(1.8).linestyle("--")
          .label("100 kΩ (opt.)", loc="bottom"))
    net(d, d.here, "3V3")

    # --- sensor power switch (right, bottom) --------------------------------------------------
    if spin:
        d.add(elm.Line().at(xiao.spow).right().length(6.0).color(pcolor))
        p = d.add(elm.Dot().color(pcolor))
        d.add(elm.Resistor().at(p.center).up().length(1.8).color(pcolor)
              .label("100 kΩ", loc="bottom"))
        net(d, d.here, "3V3")
        d.add(elm.Line().at(p.center).right().length(1.0).color(pcolor))
        q2 = d.add(elm.PFet().anchor("gate").reverse().color(pcolor))
        text(d, (q2.center[0] + 0.5, q2.center[1] + 0.9), "Q2 AO3401A", color=pcolor or NOTE)
        d.add(elm.Line().at((q2.center[0] + 3.4, q2.center[1])).right().length(0.01)
              .color("white"))
        net(d, q2.source, "3V3")
        d.add(elm.Line().at(q2.drain).down().length(0.5).color(pcolor))
        net(d, d.here, "3V3_S", down=True)
        text(d, (q2.drain[0] - 7.0, q2.drain[1] - 2.0),
             "3V3_S: the sensor's supply, on while the gate is low;\n"
             "off in deep sleep (gate pulled up). 10 µF at the MyoWare VIN.")

    # --- battery (top left) -------------------------------------------------------------------
    bx, by = myo.ref[0] - 1.0, xiao.batp[1] + 1.8
    gnd(d, (bx, by))
    d.add(elm.BatteryCell().at((bx, by)).up().length(2.2).reverse())
    text(d, (bx + 0.5, by + 1.1), "1S LiPo 3.7 V, ~1000 mAh,\nwith protection circuit")
    d.add(elm.Line().right().length(4.0))
    d.add(elm.Switch().right().length(2.0).label("storage switch", loc="top"))
    d.add(elm.Line().right().length(0.6))
    net(d, d.here, "BAT+")
    text(d, (bx + 0.5, by - 0.9), "to the XIAO's BAT+ / BAT- pads (underside)")

    # --- stretch variant (left, bottom) -------------------------------------------------------
    sx, sy = myo.ref[0] - 1.0, -1.0
    net(d, (sx, sy + 2.2), "3V3_S")
    d.add(elm.Resistor().at((sx, sy + 2.2)).down().length(2.2)
          .label("stretch cord", loc="bottom"))
    sn = d.add(elm.Dot())
    d.add(elm.Resistor().down().length(2.2).label("R_fix", loc="bottom"))
    gnd(d, d.here)
    d.add(elm.Line().at(sn.center).right().length(1.2))
    text(d, (d.here[0] + 0.2, d.here[1]), "to the 10 kΩ input in place of RAW/ENV")
    text(d, (sx - 0.4, sy + 3.4), "stretch variant:", size=10, color="black")

    # --- notes --------------------------------------------------------------------------------
    lines = ["corecue belt wiring. GPIO numbers are read from firmware/boards/xiao_esp32s3.py."]
    if proposed:
        lines.append("Orange: SENSOR_POWER_PIN, proposed in hardware/pins.csv, "
                     "not yet in the board file.")
    lines.append("Nets with the same name are connected. Part values: hardware/bom.csv.")
    text(d, (sx - 0.4, sy - 4.6), "\n".join(lines), size=10)

    d.save(out, dpi=120)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default=OUT, help="output PNG (default: %(default)s)")
    args = ap.parse_args(argv)
    print(draw(args.out))


if __name__ == "__main__":
    main()
