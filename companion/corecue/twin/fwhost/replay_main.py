# Runs the firmware signal chain over a recording: the body of `corecue replay`.
#
#   <interpreter> replay_main.py FIRMWARE_DIR MODE CAL_BIN CAL_PHASES RAW_BIN OUT_BIN [SIG_BIN]
#
# CAL_BIN and RAW_BIN hold little-endian uint16 ADC counts; CAL_PHASES one phase code per frame.
# OUT_BIN receives, per RAW frame, effort (int16, per mille of MVC, -1 uncalibrated) and quality
# (uint8); SIG_BIN, if named, the chain's fatigue index (uint16, x256) and cadence (uint8,
# steps/min, 0 before a rhythm is found) of every frame, what the belt logs every 10 s. The
# calibration verdict is printed as one line: "cal REST MVC SPREAD REASONS TRIALS".
# Written for both interpreters: no f-strings needed, only modules MicroPython has.
import sys

sys.path.insert(0, sys.argv[1])
if sys.implementation.name != "micropython":
    sys.path.insert(0, __file__.rsplit("/", 2)[0] + "/mpshim")

from array import array  # noqa: E402

from belt.calibration import Calibrator  # noqa: E402
from belt.effort import EffortChain  # noqa: E402


def blocks(path, block):
    """Yield (buffer, count) for each whole block of samples in a file, reusing one buffer."""
    buf = array("H", [0] * (block * 64))
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                return
            yield buf, n // 2 // block


def main(argv):
    mode, cal_bin, cal_phases, raw_bin, out_bin = argv[2:7]
    chain = EffortChain(mode)
    cal = Calibrator(chain.law)
    with open(cal_phases, "rb") as f:
        phases = f.read()
    # A tree from before the calibration measured its spectrum (bench --firmware DIR, for a
    # baseline) has no slow means to give it and calibrates with rest and MVC alone.
    spectral = hasattr(chain, "slow_amp")
    i = 0
    for buf, nblocks in blocks(cal_bin, chain.block):
        for b in range(nblocks):
            if i < len(phases) and (i == 0 or phases[i] != phases[i - 1]):
                cal.begin(phases[i])
            chain.push_block(buf, b * chain.block)
            if spectral:
                cal.add(chain.block_level, chain.quality, chain.block_quiet, chain.slow_amp,
                        chain.slow_step)
            else:
                cal.add(chain.block_level, chain.quality, chain.block_quiet)
            i += 1
    res = cal.commit()
    print("cal", res.rest, res.mvc, res.spread_pm, res.reasons, ",".join(str(t) for t in res.trials))
    if cal.good:
        if spectral:
            chain.calibrate(cal.good.rest, cal.good.mvc, cal.good.fi, cal.good.rest_fi)
        else:
            chain.calibrate(cal.good.rest, cal.good.mvc)
    chain.reset()
    out = bytearray(3)
    sig = bytearray(3)
    sf = open(argv[7], "wb") if len(argv) > 7 else None
    with open(out_bin, "wb") as f:
        for buf, nblocks in blocks(raw_bin, chain.block):
            for b in range(nblocks):
                chain.push_block(buf, b * chain.block)
                e = chain.effort_pm & 0xFFFF
                out[0] = e & 0xFF
                out[1] = e >> 8
                out[2] = chain.quality
                f.write(out)
                if sf:
                    v = chain.fatigue_q8
                    sig[0] = v & 0xFF
                    sig[1] = (v >> 8) & 0xFF
                    sig[2] = chain.cadence_spm if chain.rhythm_found else 0
                    sf.write(sig)
    if sf:
        sf.close()


main(sys.argv)
