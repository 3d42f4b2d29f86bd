# The app's side of a calibration (App inherits it): which calibration is in use, the phases the
# companion or the sim's scripted person begin, and the commit, which adopts a calibration only
# once the config holding it is saved, so that what the belt says it uses is what it uses after
# the next reboot. The calibrator itself (belt.calibration) judges the recording.
from belt.effort import LEVEL_VERSION


class Calibrating:

    def calibration(self):
        """(rest, mvc, fi, rest_fi) of the config's calibration (EffortChain.calibrate's), or
        None when there is none or it was taken in another sensor mode than the one running (a
        mode change waits for the next boot)."""
        c = self.config
        if c.cal_rest == c.cal_mvc or c.cal_mode != self.chain.mode:
            return None
        if c.cal_mode == "emg_raw" and c.cal_level != LEVEL_VERSION:
            return None                     # levels of an older chain's measure: calibrate again
        return (c.cal_rest, c.cal_mvc, c.cal_fi, c.cal_rest_fi)

    def cal_begin(self, phase):
        if not self.calibrating:
            self.calibrator.start()
            self.calibrating = True
            # The new calibration's frames are judged on their own: against the one it may
            # replace, a rest quieter than half that one's (a loud rest: hum over a cable, worn
            # electrodes) reads as lost contact, and every new calibration was "signal absent".
            self.chain.calibrate(0, 0)
        self.calibrator.begin(phase)
        self.cal_frames = 0

    def cal_commit(self):
        """Commit the calibration: adopted only once it is saved, so what the belt says it uses
        is what it uses after the next reboot. self.cal_adopted says whether it was."""
        res = self.calibrator.commit()
        self.calibrating = False
        self.cal_adopted = False
        verdict = "refused"
        if res.ok:
            before = self.config.as_dict()
            self.config.set_calibration(res.rest, res.mvc, self.chain.mode,
                                        self.clock.wall_time(self.board.ticks_ms()),
                                        res.fi, res.rest_fi)
            if self._save_config():
                self.cal_adopted = True
                verdict = "saved"
            else:                       # the flash refused it: keep the one that is saved
                self.config.update(before)
                verdict = "not saved"
        self._use_saved_calibration()
        self.log("calibration %s: rest %d mvc %d spread %d reasons %d index %d" % (
            verdict, res.rest, res.mvc, res.spread_pm, res.reasons, res.fi))
        return res

    def cal_abort(self):
        self.calibrating = False
        self._use_saved_calibration()

    def _use_saved_calibration(self):
        self.chain.calibrate(*(self.calibration() or (0, 0)))

    def _save_config(self):
        try:
            self.config.save()
            return True
        except OSError as e:                # a full or failing flash must not stop the run
            self.log("config not saved: %r" % e)
            return False
