"""Draw where the electrodes go: python hardware/placement.py [-o hardware/placement.png]

A front view of the lower trunk in centimetres, origin at the navel, the subject facing you (so
the subject's right side is on the left of the picture). The placement codes drawn here are the
ones in PLACEMENTS, the table that hardware/electrodes.md reproduces and that the config's
`placement` field (0..255) stores with every calibration and session. Needs matplotlib.
"""
import argparse
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import Circle, Polygon  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "placement.png")

# (code, short name, sensor, where). Code 0 means "not recorded" (the config's default);
# 255 means "somewhere else: write it down in the companion". Codes are never reused.
PLACEMENTS = [
    (0, "not recorded", "-", "no placement given (the default)"),
    (1, "IO/TrA right", "EMG",
     "subject's right: pair starting ~2 cm medial and ~2 cm inferior to the ASIS, running "
     "medially along the fibres (near-horizontal, ~6 deg down toward the midline), above the "
     "inguinal ligament; reference on the right iliac crest (the reference placement)"),
    (2, "IO/TrA left", "EMG", "as 1, on the subject's left side; reference on the left iliac crest"),
    (3, "external oblique right", "EMG",
     "subject's right: ~14-15 cm lateral of the navel, at or just below navel level, pair at "
     "~45 deg (down and toward the midline); reference on the right iliac crest"),
    (4, "external oblique left", "EMG", "as 3, on the subject's left side"),
    (5, "rectus abdominis right", "EMG",
     "~3 cm right of the navel, pair vertical (along the muscle), beside the navel; reference "
     "on the right iliac crest"),
    (6, "rectus abdominis left", "EMG", "as 5, on the subject's left side"),
    (64, "stretch cord, navel line", "stretch",
     "cord in the belt around the waist at navel height, its sensing length over the front"),
    (65, "stretch cord, hip-bone line", "stretch",
     "cord in the belt around the lower abdomen at the height of the ASIS"),
    (255, "other", "any", "anything else: describe it in the companion's notes"),
]

SKIN = "#f6e3d3"
BONE = "#8e7f6a"
RA_FILL = "#e8c3c3"
IO_FILL = "#f3d9a4"
EMG = "#c0392b"
REF = "#2c3e50"
ALT = "#7f8c8d"
STRETCH = "#2471a3"

ASIS = (-12.0, -5.0)            # subject's right anterior superior iliac spine (cm from navel)
PUBIC_TUBERCLE = (-3.5, -15.5)
IO_ANGLE_DEG = 6.0              # fibres 2 cm below the ASIS: ~6 deg inferomedial (Ng et al. 1998)
PAD_R = 1.2                     # 24 mm pads
PAIR_SPACING = 2.6              # centre to centre, cm


def smooth(points, n=24):
    """Catmull-Rom through the points (no scipy needed)."""
    pts = [points[0]] + list(points) + [points[-1]]
    xs, ys = [], []
    for i in range(1, len(pts) - 2):
        p0, p1, p2, p3 = pts[i - 1], pts[i], pts[i + 1], pts[i + 2]
        for k in range(n):
            t = k / n
            t2, t3 = t * t, t * t * t
            for acc, j in ((xs, 0), (ys, 1)):
                acc.append(0.5 * (2 * p1[j] + (-p0[j] + p2[j]) * t
                                  + (2 * p0[j] - 5 * p1[j] + 4 * p2[j] - p3[j]) * t2
                                  + (-p0[j] + 3 * p1[j] - 3 * p2[j] + p3[j]) * t3))
    xs.append(points[-1][0])
    ys.append(points[-1][1])
    return xs, ys


def mirror(points):
    return [(-x, y) for x, y in points]


def on_side(xy, side):
    """A point given for the subject's right (negative x), on side -1 (right) or +1 (left)."""
    return (abs(xy[0]) * side, xy[1])


def io_pair(side=-1):
    """Centres of the two IO/TrA electrodes on the subject's right (side -1) or left (+1): the
    first ~2 cm medial and ~2 cm inferior to the ASIS, the second further medial along the
    fibre direction."""
    ax, ay = on_side(ASIS, side)
    med = -side                                # medial is toward x = 0
    a = math.radians(IO_ANGLE_DEG)
    first = (ax + med * 2.0, ay - 2.0)
    second = (first[0] + med * PAIR_SPACING * math.cos(a), first[1] - PAIR_SPACING * math.sin(a))
    return first, second


def pair_at(center, angle_deg, spacing=PAIR_SPACING):
    a = math.radians(angle_deg)
    dx, dy = spacing / 2 * math.cos(a), spacing / 2 * math.sin(a)
    return (center[0] - dx, center[1] - dy), (center[0] + dx, center[1] + dy)


def pad(ax, xy, color, solid=True, label=None, lw=1.6):
    ax.add_patch(Circle(xy, PAD_R, facecolor=color if solid else "none",
                        alpha=0.35 if solid else 1.0, edgecolor=color, lw=lw,
                        linestyle="-" if solid else "--", zorder=5))
    ax.add_patch(Circle(xy, 0.28, facecolor=color, edgecolor="none", zorder=6))
    if label:
        ax.annotate(label, xy, fontsize=8, color="white", ha="center", va="center",
                    zorder=7, fontweight="bold")


def io_window(ax):
    """The internal oblique / transversus window below the subject's right ASIS (IO is covered
    only by the external oblique's aponeurosis here), with its near-horizontal fibres, and the
    inguinal ligament."""
    window = [ASIS, (-5.25, -5.0), (-3.8, -14.8)]
    ax.add_patch(Polygon(window, facecolor=IO_FILL, edgecolor="none", alpha=0.75, zorder=2))
    slope = math.tan(math.radians(IO_ANGLE_DEG))
    run = (PUBIC_TUBERCLE[0] - ASIS[0]) / (ASIS[1] - PUBIC_TUBERCLE[1])
    for y0 in (-5.6, -6.6, -7.6, -8.6, -9.6, -10.6, -11.6, -12.6):
        x_lat = ASIS[0] + (ASIS[1] - y0) * run            # on the inguinal ligament
        x_med = -5.2
        if x_lat >= x_med:
            continue
        ax.plot([x_lat + 0.2, x_med], [y0, y0 - slope * (x_med - x_lat - 0.2)],
                color="#c2902f", lw=0.9, zorder=3)


def draw_zoom(ax, first, second):
    """Code 1 at twice the scale: the offsets from the ASIS and the fibre direction."""
    ax.set_aspect("equal")
    ax.set_xlim(-13.6, -4.0)
    ax.set_ylim(-10.5, -3.0)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor(SKIN)
    for sp in ax.spines.values():
        sp.set_edgecolor("#999999")
    io_window(ax)
    ax.plot([ASIS[0], PUBIC_TUBERCLE[0]], [ASIS[1], PUBIC_TUBERCLE[1]], color=BONE, lw=1.4,
            ls="--", zorder=3)
    cx, cy = smooth([ASIS, (-13.8, -2.8), (-15.0, -0.4)])
    ax.plot(cx, cy, color=BONE, lw=3, zorder=3)
    ax.add_patch(Circle(ASIS, 0.45, facecolor=BONE, zorder=4))
    ax.text(ASIS[0] - 0.3, ASIS[1] + 0.7, "ASIS", fontsize=10, ha="right", color="#4d4437")
    ax.text(-10.9, -9.6, "inguinal\nligament", fontsize=9, color="#4d4437", ha="center")
    for c, lbl in ((first, "E"), (second, "M")):
        pad(ax, c, EMG, label=lbl)
    dim = dict(arrowstyle="<->", color="black", lw=1.0, shrinkA=0, shrinkB=0)
    ax.annotate("", (ASIS[0], ASIS[1] + 0.9), (first[0], ASIS[1] + 0.9), arrowprops=dim)
    ax.text((ASIS[0] + first[0]) / 2, ASIS[1] + 1.15, "2 cm", fontsize=10, ha="center")
    ax.annotate("", (first[0] - 1.8, ASIS[1]), (first[0] - 1.8, first[1]), arrowprops=dim)
    ax.text(first[0] - 2.0, (ASIS[1] + first[1]) / 2, "2 cm", fontsize=10, ha="right",
            va="center")
    ax.plot([ASIS[0], first[0] - 1.8], [ASIS[1], ASIS[1]], color="black", lw=0.6, ls=":")
    ax.plot([first[0] - 1.8, first[0]], [first[1], first[1]], color="black", lw=0.6, ls=":")
    ax.plot([first[0], first[0]], [ASIS[1] + 0.9, first[1]], color="black", lw=0.6, ls=":")
    ax.text(second[0] - 0.2, second[1] - 2.3, "pair along the fibres:\n~6\u00b0 below "
            "horizontal,\ntoward the midline", fontsize=9, va="center", ha="center", color=EMG,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=2), zorder=10)
    ax.set_title("code 1 enlarged (x2), subject's right", fontsize=10)


def draw(out=OUT):
    fig, ax = plt.subplots(figsize=(15, 10))
    ax.set_aspect("equal")
    ax.set_xlim(-31, 40)
    ax.set_ylim(-25, 21)
    ax.axis("off")

    # Trunk outline (right half, mirrored).
    right = [(-15.5, 20), (-14.2, 14), (-12.8, 7), (-12.6, 2), (-13.6, -2), (-16.2, -7),
             (-17.2, -11), (-16.6, -16), (-15.2, -22)]
    rx, ry = smooth(right)
    lx, ly = smooth(mirror(right))
    crotch_x, crotch_y = smooth([(-4.5, -22.5), (-1.5, -19.5), (0, -19), (1.5, -19.5),
                                 (4.5, -22.5)])
    outline = list(zip(rx, ry)) + list(zip(crotch_x, crotch_y))[::-1][::-1] \
        + list(zip(lx, ly))[::-1]
    ax.add_patch(Polygon(outline, closed=False, facecolor=SKIN, edgecolor="#6e5849", lw=2,
                         zorder=1))

    # Rectus abdominis (both sides) and the linea alba.
    for s in (-1, 1):
        lat = [(7.0 * s, 14.5), (7.2 * s, 7), (6.4 * s, 0), (5.2 * s, -7), (3.4 * s, -15.0)]
        bx, by = smooth(lat)
        poly = list(zip(bx, by)) + [(0.6 * s, -15.2), (0.6 * s, 14.8)]
        ax.add_patch(Polygon(poly, facecolor=RA_FILL, edgecolor="#b07a7a", lw=1, alpha=0.6,
                             zorder=2))
    ax.plot([0, 0], [15, -15], color="#b07a7a", lw=1, zorder=2)
    ax.text(-3.8, 9.5, "rectus\nabdominis", ha="center", fontsize=9, color="#8c4f4f", zorder=3)

    # Costal margins.
    for s in (-1, 1):
        cx, cy = smooth([(0, 15.5), (4 * s, 13.6), (8 * s, 11.2), (12 * s, 8.4), (13.4 * s, 6.6)])
        ax.plot(cx, cy, color=BONE, lw=2, zorder=3)
    ax.text(10.5, 12.6, "lower ribs", fontsize=9, color=BONE)

    # Iliac crests, ASIS, inguinal ligaments, pubis.
    crest = [ASIS, (-13.8, -2.8), (-15.0, -0.4), (-15.7, 2.0)]
    for pts in (crest, mirror(crest)):
        cx, cy = smooth(pts)
        ax.plot(cx, cy, color=BONE, lw=3, zorder=3, solid_capstyle="round")
    for s in (-1, 1):
        ax.add_patch(Circle(on_side(ASIS, s), 0.5, facecolor=BONE, zorder=4))
        a, b = on_side(ASIS, s), on_side(PUBIC_TUBERCLE, s)
        ax.plot([a[0], b[0]], [a[1], b[1]], color=BONE, lw=1.4, ls="--", zorder=3)
    ax.plot([-3.5, 3.5], [-15.5, -15.5], color=BONE, lw=3, zorder=3, solid_capstyle="round")
    ax.annotate("ASIS (front hip bone)", ASIS, xytext=(-29.5, -9.5), fontsize=10,
                arrowprops=dict(arrowstyle="-", color=BONE, lw=1), color="#4d4437")
    ax.annotate("iliac crest", (-15.0, -0.4), xytext=(-29.5, 1.5), fontsize=10,
                arrowprops=dict(arrowstyle="-", color=BONE, lw=1), color="#4d4437")
    ax.annotate("inguinal ligament", (-7.0, -10.2), xytext=(-29.5, -15.5), fontsize=10,
                arrowprops=dict(arrowstyle="-", color=BONE, lw=1), color="#4d4437")

    io_window(ax)
    ax.text(-9.3, -13.6, "internal oblique /\ntransversus", fontsize=8.5, color="#8a6416",
            ha="center", zorder=3)

    # External oblique fibres on the flank (down and toward the midline).
    for x0 in (-14.8, -13.4, -12.0, -10.6):
        ax.plot([x0, x0 + 3.0], [5.5, 2.5], color="#b9a48e", lw=0.8, zorder=2)
    ax.text(-19.8, 6.2, "external oblique\n(fibres down-and-in)", fontsize=8.5, color="#7d6a55")

    # Navel.
    ax.add_patch(Circle((0, 0), 0.55, facecolor="#d9b8a0", edgecolor="#6e5849", zorder=4))
    ax.annotate("navel", (0.5, 0.3), xytext=(1.6, 2.6), fontsize=9, color="#4d4437")

    # Code 1 (the reference placement), drawn solid.
    first, second = io_pair(-1)
    pad(ax, first, EMG, label="E")
    pad(ax, second, EMG, label="M")
    ref = (-15.0, -0.4)
    pad(ax, ref, REF, label="R")
    ax.annotate("1: electrodes over IO/TrA: the first ~2 cm medial\nand ~2 cm below the ASIS, "
                "the second medial to it,\nalong the fibres, above the inguinal ligament",
                (first[0] - 0.3, first[1] - 1.1), xytext=(-29.5, -21.0), fontsize=10,
                color=EMG, ha="left", arrowprops=dict(arrowstyle="->", color=EMG, lw=1.2),
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=2))
    ax.annotate("reference electrode\non the iliac crest (bone)", ref, xytext=(-29.5, 8.5),
                fontsize=10, color=REF, arrowprops=dict(arrowstyle="->", color=REF, lw=1.2))
    ax.text((first[0] + second[0]) / 2 + 0.6, first[1] + 1.6, "1", fontsize=13, color=EMG,
            fontweight="bold", ha="center", zorder=8)

    # Code 2 (mirror), 3 (EO right), 5 (RA right): dashed outlines.
    for c in io_pair(1):
        pad(ax, c, ALT, solid=False)
    l1, l2 = io_pair(1)
    ax.text((l1[0] + l2[0]) / 2, l1[1] + 1.5, "2", fontsize=11, color=ALT, fontweight="bold",
            ha="center")
    for c in pair_at((-11.3, 1.0), -45):
        pad(ax, c, ALT, solid=False)
    ax.text(-12.2, 3.6, "3", fontsize=11, color=ALT, fontweight="bold")
    for c in pair_at((-3.0, 0.0), 90):
        pad(ax, c, ALT, solid=False)
    ax.text(-4.1, 2.7, "5", fontsize=11, color=ALT, fontweight="bold")

    # Stretch cord lines (drawn on the subject's left only: the cord runs all the way round).
    for y, code in ((0.0, "64"), (ASIS[1], "65")):
        ax.plot([1.0, 15.8 if y == 0 else 15.6], [y, y], color=STRETCH, lw=2.2, ls=(0, (5, 3)),
                zorder=4)
        ax.text(16.6, y - 0.45, code, fontsize=10, color=STRETCH)

    # Legend and scale.
    ax.text(20.0, 16.5, "placement codes (hardware/electrodes.md)", fontsize=11,
            fontweight="bold")
    lines = ["1   IO/TrA, right (reference placement)", "2   IO/TrA, left (mirror of 1)",
             "3/4 external oblique, right/left", "5/6 rectus abdominis, right/left",
             "64  stretch cord at the navel line", "65  stretch cord at the hip-bone line",
             "0 not recorded, 255 other"]
    ax.text(20.0, 15.6, "\n".join(lines), fontsize=10, va="top", family="monospace")
    ax.text(20.0, 8.2, "E, M: the two sensing electrodes\n(MyoWare END, MID), pair along\n"
            "the fibres, 2.5-3 cm apart\nR: reference on bone", fontsize=10, va="top",
            color=EMG)
    ax.text(20.0, 3.0, "solid: code 1; dashed: other codes\n(4 and 6 mirror 3 and 5)",
            fontsize=9.5, color=ALT, va="top")
    ax.plot([20.0, 25.0], [-1.8, -1.8], color="black", lw=3)
    for x in (20.0, 25.0):
        ax.plot([x, x], [-2.2, -1.4], color="black", lw=1.5)
    ax.text(25.8, -2.3, "5 cm", fontsize=10)
    zoom = ax.inset_axes([20.0, -24.6, 19.2, 15.0], transform=ax.transData)
    draw_zoom(zoom, first, second)

    ax.text(-29.5, 19.2, "Electrode placement for bracing (front view)", fontsize=15,
            fontweight="bold")
    ax.text(-29.5, 17.6, "the subject faces you: their RIGHT side is on the LEFT of the picture",
            fontsize=10.5, color="#555555")
    ax.text(-14.5, -24.2, "subject's right", fontsize=10, color="#555555", ha="center")
    ax.text(14.5, -24.2, "subject's left", fontsize=10, color="#555555", ha="center")

    fig.savefig(out, dpi=110, bbox_inches="tight", facecolor="white")
    plt.close(fig)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", default=OUT, help="output PNG (default: %(default)s)")
    args = ap.parse_args(argv)
    print(draw(args.out))


if __name__ == "__main__":
    main()
