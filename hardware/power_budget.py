"""The belt's power budget: python hardware/power_budget.py

Currents are drawn from the battery (about 3.7-3.8 V), in mA. hardware/power.md explains every
figure and gives its source; tests/test_hardware.py checks that the run time and standby time
meet the targets and that power.md quotes what this script computes.
"""

# Battery: 1S LiPo, nominal capacity and the derating used for the worst case.
BATTERY_MAH = 1000
USABLE = 0.85       # stop at ~3.5 V under load, not at the protection cut-off
AGED = 0.80         # end of life: 80 % of nominal capacity left
COLD = 0.90         # a winter morning run (0-5 degC)
SELF_DISCHARGE_PER_MONTH = 0.03  # typical LiPo, plus the protection circuit's own drain

# Per-part currents (mA). Each entry: (typical, worst).
XIAO_AWAKE = (25.0, 35.0)        # CPU on, radio off (Seeed: modem-sleep ~25 mA at 3.8 V)
XIAO_LIGHT_SLEEP = (2.0, 3.0)    # Seeed: ~2 mA at 3.8 V
XIAO_DEEP_SLEEP = (0.014, 0.300)  # Seeed: ~14 uA; field reports up to ~300 uA on a low cell
BLE_ON = (15.0, 30.0)            # allowance when the radio is left on (advertising/connected)
BLE_SYNC = (80.0, 120.0)         # whole board during a sync transfer (radio busy)

# Advertising at other intervals. BLE_ON was set for advertising every 200 ms, the one interval the
# belt had before its advertising windows (belt/radiowindow.py). Each advertising event (the
# radio's start-up, a packet on each of the three advertising channels, listening for a scan or
# connect request) costs about the same charge whatever the interval, so the average current of
# advertising is taken as BLE_ON x ADV_REF_MS / interval: one event is BLE_ON for ADV_REF_MS.
# Assumed, not measured: all of BLE_ON is per event. A part drawn whether or not the radio sends
# (the controller kept clocked between events) would not fall with the interval; ADV_FIXED_SHARE
# is the share bench/power_week.py also prices that way, to show how much that would change.
ADV_REF_MS = 200
ADV_FIXED_SHARE = 0.5


def adv_current(interval_ms, fixed_share=0.0):
    """(typical, worst) mA of advertising every interval_ms, fixed_share of BLE_ON not scaling."""
    k = fixed_share + (1 - fixed_share) * ADV_REF_MS / interval_ms
    return (BLE_ON[0] * k, BLE_ON[1] * k)


def adv_event_mah(fixed_share=0.0):
    """(typical, worst) mAh of one advertising event's own share: (1 - fixed_share) of BLE_ON
    for ADV_REF_MS."""
    return tuple(BLE_ON[i] * (1 - fixed_share) * ADV_REF_MS / 3.6e6 for i in (0, 1))
MYOWARE = (10.0, 10.0)           # allowance incl. its two LEDs; no datasheet figure: measure
STRETCH_DIVIDER = (0.8, 1.6)     # 3.3 V across cord + fixed resistor (2-4 kOhm)
LIFT_NETWORK = (0.02, 0.02)      # 3.3 V / 160 kOhm, only while the sensor rail is on
BATTERY_DIVIDER = (0.021, 0.021)  # 4.2 V / 200 kOhm, always
PROTECTION_CIRCUIT = (0.005, 0.005)
SWITCH_LEAKAGE = (0.001, 0.001)  # P-MOSFET off, gate pull-ups idle

# Motor: a 10 mm coin ERM (Adafruit 1201: 60 mA at 3 V, 80 mA at 4 V) at the PWM strength of
# each pattern. Typical: one level-1 brace-more cue every 2 minutes (300 ms on at 70 %).
# Worst: 4 level-3 brace-more cues a minute (600 ms on at 100 %) plus a check-sensor cue
# (900 ms on at 80 %) every minute.
MOTOR_ON_MA = 80.0


def motor_avg():
    typical = MOTOR_ON_MA * (0.300 * 0.70) / 120.0
    worst = MOTOR_ON_MA * (4 * 0.600 * 1.00 + 0.900 * 0.80) / 60.0
    return (typical, worst)


def run_current(mode="emg_raw", ble=False):
    """(typical, worst) mA while a session runs: CPU awake (1 kHz sampling keeps it out of
    light sleep), sensor rail on, motor cues, radio off unless ble."""
    parts = [XIAO_AWAKE, motor_avg(), BATTERY_DIVIDER, PROTECTION_CIRCUIT, LIFT_NETWORK]
    parts.append(STRETCH_DIVIDER if mode == "stretch" else MYOWARE)
    if ble:
        parts.append(BLE_ON)
    return tuple(sum(p[i] for p in parts) for i in (0, 1))


def standby_current():
    """(typical, worst) mA in deep sleep: sensor rail off, motor off, button armed."""
    parts = [XIAO_DEEP_SLEEP, BATTERY_DIVIDER, PROTECTION_CIRCUIT, SWITCH_LEAKAGE]
    return tuple(sum(p[i] for p in parts) for i in (0, 1))


def hours(current_ma, worst=False):
    cap = BATTERY_MAH * USABLE * ((AGED * COLD) if worst else 1.0)
    return cap / current_ma


def standby_days(current_ma):
    """Days of deep sleep from full until the cell is at the usable limit, with self-discharge
    (a constant fraction of the nominal capacity a month)."""
    cap = BATTERY_MAH * USABLE
    per_day = current_ma * 24 + BATTERY_MAH * SELF_DISCHARGE_PER_MONTH / 30.0
    return cap / per_day


def summary():
    raw_t, raw_w = run_current("emg_raw")
    ble_t, ble_w = run_current("emg_raw", ble=True)
    st_t, st_w = run_current("stretch")
    sb_t, sb_w = standby_current()
    return {
        "run_ma_typical": raw_t,
        "run_ma_worst": raw_w,
        "run_h_typical": hours(raw_t),
        "run_h_worst": hours(raw_w, worst=True),
        "run_ble_h_worst": hours(ble_w, worst=True),
        "stretch_h_worst": hours(st_w, worst=True),
        "standby_ma_typical": sb_t,
        "standby_ma_worst": sb_w,
        "standby_days_typical": standby_days(sb_t),
        "standby_days_worst": standby_days(sb_w),
        "idle_awake_h": hours(XIAO_AWAKE[0] + BATTERY_DIVIDER[0]),
        "idle_light_sleep_days": hours(XIAO_LIGHT_SLEEP[0] + BATTERY_DIVIDER[0]) / 24,
        "motor_ma_typical": motor_avg()[0],
        "motor_ma_worst": motor_avg()[1],
        "adv_fast_ma_typical": adv_current(200)[0],
        "adv_slow_ma_typical": adv_current(1000)[0],
        "adv_slow_ma_worst": adv_current(1000)[1],
        "adv_slow_half_fixed_ma_typical": adv_current(1000, ADV_FIXED_SHARE)[0],
    }


def main():
    s = summary()
    print("battery: %d mAh nominal, %.0f mAh usable new, %.0f mAh worst (aged, cold)"
          % (BATTERY_MAH, BATTERY_MAH * USABLE, BATTERY_MAH * USABLE * AGED * COLD))
    print("run (emg_raw, radio off): %.1f mA typical -> %.1f h; %.1f mA worst -> %.1f h"
          % (s["run_ma_typical"], s["run_h_typical"], s["run_ma_worst"], s["run_h_worst"]))
    print("run with the radio left on, worst: %.1f h" % s["run_ble_h_worst"])
    print("run (stretch), worst: %.1f h" % s["stretch_h_worst"])
    print("motor average: %.2f mA typical, %.1f mA worst"
          % (s["motor_ma_typical"], s["motor_ma_worst"]))
    print("standby (deep sleep): %.0f uA typical -> %.0f days; %.0f uA worst -> %.0f days"
          % (s["standby_ma_typical"] * 1000, s["standby_days_typical"],
             s["standby_ma_worst"] * 1000, s["standby_days_worst"]))
    print("idle without sleeping: %.0f h; idle in light sleep: %.0f days"
          % (s["idle_awake_h"], s["idle_light_sleep_days"]))
    print("advertising every 200 ms: +%.1f mA typical; every 1000 ms: +%.1f mA typical, +%.1f mA "
          "worst (+%.1f mA typical if half of it is drawn whatever the interval)"
          % (s["adv_fast_ma_typical"], s["adv_slow_ma_typical"], s["adv_slow_ma_worst"],
             s["adv_slow_half_fixed_ma_typical"]))


if __name__ == "__main__":
    main()
