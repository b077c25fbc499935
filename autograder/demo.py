"""The instructor demo: grade a small shipped class and report on it.

It builds the data if missing, writes a demo class made from the source
notebook (one correct submission, four with a typical mistake each, and a
broken file), grades it in parallel with real nbgrader, writes the feedback
and the instructor report, and prints where everything is.
"""

import subprocess
import sys
from pathlib import Path

from autograder import batch, demo_class, report

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT / "data"
DATA_FILES = ("train_signs.h5", "test_signs.h5")


def ensure_data():
    """Builds the hand-signs files with the generator if either is missing."""
    missing = [name for name in DATA_FILES if not (DATA_DIR / name).exists()]
    if missing:
        print(f"Building the hand-signs data set ({', '.join(missing)} missing)...")
        subprocess.run([sys.executable, str(DATA_DIR / "make_signs.py")], check=True)
    for name in DATA_FILES:
        print(f"  data: {DATA_DIR / name}")


def run(out_dir):
    """Runs the whole instructor flow into out_dir; returns the exit code."""
    out_dir = Path(out_dir)
    ensure_data()
    class_dir = out_dir / "submissions"
    paths = demo_class.write_demo_class(class_dir)
    print(f"Demo class: {len(paths)} submissions in {class_dir}")
    results = batch.grade_class(class_dir, out_dir / "graded")
    report_path = report.write_report(out_dir / "graded")
    print("\nWritten:")
    print(f"  grades:   {out_dir / 'graded' / batch.GRADES_FILE}")
    print(f"  feedback: {out_dir / 'graded' / 'feedback'} ({len(results)} files or fewer: "
          "none for submissions that could not be run)")
    print(f"  report:   {report_path}")
    return 0
