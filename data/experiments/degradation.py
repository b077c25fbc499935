"""Train plain and residual networks of two depths on SIGNS and save the curves.

The experiment behind the notebook's section 9: does a deeper plain network
fit its training set worse, and does a residual network of the same depth
not? The settings and the training live in resnet_helpers.degradation; this
script only chooses the run and the file. Run from the repository root::

    PYTHONPATH=.:solutions/residual_networks python data/experiments/degradation.py
    PYTHONPATH=.:solutions/residual_networks python data/experiments/degradation.py \\
        --quick --out /tmp/degradation-quick.json

The full run (plain and residual networks of 20 and 56 layers, 3 seeds each)
takes about 13 minutes on a 2-core CPU and writes
data/experiments/degradation.json, which the notebook loads. The quick run
(8 and 14 layers, 1 seed, 4 epochs on 128 pictures) takes well under a
minute and writes a file of the same structure, by default to the system's
temporary folder, so that it never replaces the full results.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from resnet_helpers import degradation

FULL_RESULTS = Path(__file__).resolve().parent / "degradation.json"
QUICK_RESULTS = Path(tempfile.gettempdir()) / "degradation-quick.json"


def main(argv=None):
    """Runs the full or the quick experiment, saves it and prints a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="the short run: 8 and 14 layers, 1 seed, 4 epochs")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"results file (default: {FULL_RESULTS} for the full run, "
                        f"{QUICK_RESULTS} for the quick run)")
    parser.add_argument("--data-dir", default=None,
                        help="folder with the .h5 files (default: the loader's search)")
    args = parser.parse_args(argv)
    settings = degradation.QUICK_RUN if args.quick else degradation.FULL_RUN
    out = args.out or (QUICK_RESULTS if args.quick else FULL_RESULTS)
    print(settings.description, flush=True)
    results = degradation.run_experiment(
        settings, data_dir=args.data_dir, progress=lambda line: print(line, flush=True))
    degradation.save_results(results, out)
    print(degradation.format_summary(results))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
