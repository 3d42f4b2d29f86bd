"""`--firmware DIR` for the benches that replay the chain: another firmware tree (`git archive`
of an older commit) run in the same minutes as this one, for a baseline."""
import os


def add(ap):
    ap.add_argument("--firmware", default=None,
                    help="firmware tree (default: this one's; `git archive` of an older commit)")


def use(ap, args):
    """Point the chain's replay at args.firmware, if given; a tree with no belt/ is refused."""
    import corecue.twin.replay as replay
    if args.firmware:
        if not os.path.isdir(os.path.join(args.firmware, "belt")):
            ap.error("--firmware: %s has no belt/ package" % args.firmware)
        replay.FIRMWARE = args.firmware
    return replay.FIRMWARE
