"""Time of `release` and of `report` on the demo class.

Run from the repository root (about 4 minutes, most of it grading the class)::

    PYTHONPATH=.:solutions/residual_networks python benchmarks/release_and_report.py

`release` regenerates assignment/ and dist/ in place (the result is the same
every time, so the repository is left as it was). The report needs a graded
class, so the script writes the instructor demo's class of six (correct,
four typical mistakes, a broken file), grades it with `grade` once, and then
times `report` on that output. Each command runs in a new process, as an
instructor runs it; the figures are medians of --repeats runs.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from benchmarks.measuring import median_line, run_timed

from autograder import demo_class


def autograder_command(*arguments):
    return [sys.executable, "-m", "autograder", *arguments]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs behind each median (default 3)")
    parser.add_argument("--workers", type=int, default=2,
                        help="workers for grading the demo class (default 2)")
    args = parser.parse_args(argv)
    if args.repeats < 1 or args.workers < 1:
        parser.error("--repeats and --workers must be at least 1")
    releases = [run_timed(autograder_command("release")) for _ in range(args.repeats)]
    print(median_line("release (generate_assignment, leak scan, student zip)", releases))
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        scratch = Path(scratch)
        paths = demo_class.write_demo_class(scratch / "submissions")
        graded = scratch / "graded"
        seconds = run_timed(autograder_command("grade", str(scratch / "submissions"),
                                               "--out", str(graded),
                                               "--workers", str(args.workers)))
        print(f"grade of the demo class ({len(paths)} submissions, {args.workers} "
              f"workers), for the report to read: {seconds:.0f} s")
        reports = [run_timed(autograder_command("report", str(graded)))
                   for _ in range(args.repeats)]
        print(median_line(f"report on the demo class ({len(paths)} submissions)", reports))
    return 0


if __name__ == "__main__":
    sys.exit(main())
