"""Gradescope: the autograder zip to upload, and the grading run inside it.

Usage:

    python -m autograder gradescope      # writes dist/autograder.zip

Upload dist/autograder.zip as the autograder of a Gradescope programming
assignment (Ubuntu base image; set its timeout to 10 minutes or more).
Gradescope runs setup.sh once, to build its image: Python 3.11 and the
pinned packages go into /autograder/venv. For each submission it runs
run_autograder, which calls ``python -m autograder.gradescope run``: the one
notebook in /autograder/submission/ is graded by real nbgrader, as
``python -m autograder grade`` grades a class, and
/autograder/results/results.json gets one test per graded exercise.

The exercises' results and hints are shown to students when the grades are
published ("after_published"). A submission that cannot be graded (no
notebook, several, a broken one) scores 0, and the top-level output says
why at once, so the student can fix it and resubmit.

To try the zip without Gradescope: unzip it into ROOT/source, put a notebook
in ROOT/submission/, run ``AUTOGRADER_ROOT=ROOT bash ROOT/source/run_autograder``
with this venv's python3 first on PATH, and read ROOT/results/results.json.
"""

import argparse
import json
import re
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder import course, grading, sandbox, submissions
from autograder.safe_text import printable

DIST_DIR = course.ROOT / "dist"
PACKAGE_NAME = "autograder.zip"
DEFAULT_ROOT = Path("/autograder")
RESULTS_FILE = "results.json"
REQUIRED_DATA = course.NOTEBOOK_DATA
STUDENT_ID = "student"  # one submission per container, so any fixed id will do
HIDDEN_TESTS_MARKER = course.HIDDEN_TESTS_MARKER
# Gradescope stops a run at the assignment's timeout without any results.json;
# stopping first (course set-up and feedback take ~20 s more) leaves a reason.
LIMITS = grading.Limits(cell_seconds=120, submission_seconds=480)
MAX_OUTPUT_CHARACTERS = 5000  # per output; the checks' messages are far shorter
INTERNAL_ERROR = ("the autograder itself failed, not your notebook. Please tell the "
                  "course staff; they can see what went wrong in the autograder's log.")

# Repository files and folders the zip holds besides the two scripts.
PACKAGED_FILES = ("requirements.txt", "requirements-lock.txt")
PACKAGED_FOLDERS = ("autograder", f"solutions/{course.ASSIGNMENT}")
_SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints", "dist", "out"}
_SKIPPED_SUFFIXES = {".pyc", ".db", ".log", ".partial"}
# Not the student's work: macOS zip metadata and Jupyter's checkpoint copies.
_IGNORED_IN_SUBMISSIONS = {"__MACOSX", ".ipynb_checkpoints"}
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# It puts Python 3.11 and the repository's pinned packages into a venv;
# run_autograder puts that venv first on PATH.
set -euo pipefail
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${AUTOGRADER_ROOT:-/autograder}/venv"

# The pins are for Python 3.11 and Ubuntu's own python3 may be another
# version, so Python 3.11 comes from the deadsnakes archive.
apt-get update
apt-get install -y software-properties-common
add-apt-repository -y ppa:deadsnakes/ppa
apt-get update
apt-get install -y python3.11 python3.11-venv

# The student's kernel runs as this unprivileged user, with no write access
# to /autograder (source, results, venv), inside a bubblewrap sandbox where
# the container allows one (sandbox.py). Its uid is the grader's first.
apt-get install -y bubblewrap util-linux
id -u autograder-student >/dev/null 2>&1 || \
    useradd --system --no-create-home --shell /usr/sbin/nologin \
        --uid __SANDBOX_UID__ autograder-student

# requirements.txt names the direct dependencies; the lock file pins all
# that they pull in, so the image matches the environment the tests pass in.
python3.11 -m venv "$VENV"
"$VENV/bin/python" -m pip install --upgrade pip
"$VENV/bin/python" -m pip install -r "$SOURCE/requirements.txt" \\
    -c "$SOURCE/requirements-lock.txt"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, from a copy in /autograder.
# The grading is done in Python (autograder/gradescope.py), which writes
# results/results.json whatever the submission holds.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
# setup.sh's venv; without one (a local try-out) the python3 on PATH is used.
if [ -x "$ROOT/venv/bin/python3" ]; then
    export PATH="$ROOT/venv/bin:$PATH"
fi
export PYTHONPATH="$SOURCE"
export TF_CPP_MIN_LOG_LEVEL=2
cd "$SOURCE"
exec python3 -m autograder.gradescope run --root "$ROOT"
"""
SETUP_SH = SETUP_SH.replace("__SANDBOX_UID__", str(sandbox.FIRST_SANDBOX_UID))
SCRIPTS = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER}


@dataclass(frozen=True)
class GradedPart:
    """One graded cell of the source notebook: a test in results.json."""

    grade_id: str
    points: float
    hidden: bool  # its checks are nbgrader hidden tests

    @property
    def visibility(self):
        return "after_published" if self.hidden else "visible"


# ## The package

def build_package(dist_dir=DIST_DIR):
    """Writes the zip to upload to Gradescope, DIST_DIR/autograder.zip.

    Returns:
        Path of the zip written; a failed run never leaves half a zip behind.

    Raises:
        FileNotFoundError: a data file is missing (run data/make_signs.py).
    """
    files = package_files()
    package = Path(dist_dir) / PACKAGE_NAME
    package.parent.mkdir(parents=True, exist_ok=True)
    partial = package.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in SCRIPTS.items():
            script = zipfile.ZipInfo(name, date_time=time.localtime()[:6])
            script.external_attr = 0o100755 << 16  # a regular, executable file
            archive.writestr(script, text, compress_type=zipfile.ZIP_DEFLATED)
        for name, path in sorted(files.items()):
            archive.write(path, name)
    partial.replace(package)
    return package


def package_files(root=course.ROOT):
    """Maps each name in the zip (scripts aside) to the file it copies."""
    root = Path(root)
    names = list(PACKAGED_FILES)
    for folder in PACKAGED_FOLDERS:
        found = [p.relative_to(root) for p in (root / folder).rglob("*") if p.is_file()]
        names += sorted(str(path) for path in found if not _skipped(path))
    for name in REQUIRED_DATA:
        if not (root / "data" / name).is_file():
            raise FileNotFoundError(
                f"{root / 'data' / name}: missing; run data/make_signs.py")
    names += [f"data/{name}" for name in REQUIRED_DATA]
    return {name: root / name for name in names}


def _skipped(relative_path):
    return (bool(_SKIPPED_PARTS.intersection(relative_path.parts))
            or relative_path.suffix in _SKIPPED_SUFFIXES)


# ## Grading one submission

def run(root, limits=LIMITS):
    """Grades the notebook in ROOT/submission/ into ROOT/results/results.json.

    Args:
        root: the folder Gradescope calls /autograder.
        limits: grading.Limits.

    Returns:
        The results written, as a dict in Gradescope's format. Nothing the
        submission holds makes this raise; should the grader itself fail,
        results.json still says so (score 0) and the traceback goes to stderr.
    """
    root = Path(root)
    started = time.perf_counter()
    parts = []
    try:
        parts = graded_parts()
        results = grade_folder(root / "submission", parts, limits)
    except Exception:  # anything, so that Gradescope gets a results.json
        traceback.print_exc()
        results = failed_results(INTERNAL_ERROR, parts)
    results["output"] += f"\n\nIsolation: {isolation_line(limits.sandbox)}"
    results["execution_time"] = round(time.perf_counter() - started)
    write_results(root / "results" / RESULTS_FILE, results)
    return results


def isolation_line(mode):
    """How the kernel was isolated, in a line students may read."""
    try:
        sandboxed, _ = sandbox.isolation(mode)
    except ValueError as error:
        return str(error)
    if sandboxed:
        return "your notebook ran in a bubblewrap sandbox, as an unprivileged user."
    user = "an unprivileged user" if sandbox.can_drop_privileges() else "the grader's user"
    return (f"your notebook ran as {user}, without a sandbox (this container does not "
            "allow bubblewrap).")


def graded_parts(source_notebook=course.SOURCE_ASSIGNMENT / course.NOTEBOOK):
    """The graded cells of the source notebook, in notebook order."""
    notebook = nbformat.read(source_notebook, as_version=4)
    parts = []
    for cell in notebook.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if metadata.get("grade"):
            points = float(metadata.get("points", 0))
            hidden = HIDDEN_TESTS_MARKER in cell.source
            parts.append(GradedPart(metadata["grade_id"], points, hidden))
    return parts


def grade_folder(submission_dir, parts, limits=LIMITS):
    """Grades the one notebook in `submission_dir`; returns Gradescope's results."""
    notebook, problem = find_notebook(submission_dir)
    with tempfile.TemporaryDirectory(prefix="gradescope-") as scratch:
        scratch = Path(scratch)
        if not problem:  # only the grader's own copy is read from here on
            copy = scratch / "handed-in" / course.NOTEBOOK
            refusal = submissions.copy_in(notebook, copy, limits.notebook_bytes)
            problem = (f"{notebook.name} was refused: {refusal}" if refusal else
                       grading.notebook_problem(copy, limits, notebook.name))
        if problem:  # found before any course is made, so it is reported in a second
            return failed_results(printable(problem), parts)
        template = course.make_course(scratch / "template",
                                      cell_timeout=limits.cell_seconds)
        submission = submissions.Submission(STUDENT_ID, copy, file=notebook.name)
        result = grading.grade_submission(submission, template, scratch / "work",
                                          limits)
        if result.status == "failed":  # "review" is graded, its held parts at 0
            return failed_results(result.reason, parts)
        return graded_results(result, parts)  # reads the autograded notebook in scratch


def find_notebook(folder):
    """The one notebook in a submission folder, or why there is not one.

    Returns:
        (path, "") when there is exactly one notebook, else (None, problem).
        Notebooks in subfolders count, as students often upload a folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None, f"there is no submission folder ({folder})"
    files = [p for p in sorted(folder.rglob("*"))
             if p.is_file() and not _ignored(p.relative_to(folder))]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    if len(notebooks) == 1:
        return notebooks[0], ""
    if not notebooks:
        handed_in = ", ".join(str(p.relative_to(folder)) for p in files)
        handed_in = handed_in or "no files at all"
        return None, (f"no notebook (.ipynb file) was found in your submission "
                      f"(it holds {handed_in}); submit {course.NOTEBOOK}")
    names = ", ".join(str(p.relative_to(folder)) for p in notebooks)
    return None, (f"your submission holds {len(notebooks)} notebooks ({names}); "
                  f"submit only one, {course.NOTEBOOK}")


def _ignored(relative_path):
    return any(part in _IGNORED_IN_SUBMISSIONS or part.startswith(".")
               for part in relative_path.parts)


# ## results.json

def graded_results(result, parts):
    """Gradescope's results for a graded submission: one test per part."""
    errors = error_texts(result.autograded)
    tests = []
    for part in parts:
        score = float(result.scores.get(part.grade_id, 0.0))
        output = "Passed" if score >= part.points else errors.get(
            part.grade_id, "Failed: the check gave no error message.")
        if part.grade_id in result.held:  # the staff adjust it in Gradescope after reading
            output = grading.HELD_FEEDBACK.format(exercise=part.grade_id)
        tests.append(gradescope_test(part, score, output))
    # Students see this line at once, so it names no exercise's result.
    names = ", ".join(part.grade_id for part in parts)
    summary = f"Your notebook was run and graded ({names})."
    if any(part.hidden for part in parts):
        summary += (" The result of each exercise, with hints for any mistake, is "
                    "shown once grades are published.")
    return {"score": sum(test["score"] for test in tests), "output": summary,
            "tests": tests}


def failed_results(problem, parts):
    """Gradescope's results when nothing could be graded: 0, and the reason."""
    message = _clip(f"Your submission could not be graded: {problem}")
    return {
        "score": 0.0,
        "output": message,
        "tests": [gradescope_test(part, 0.0, message) for part in parts],
    }


def gradescope_test(part, score, output):
    """One entry of results.json's "tests", with the spec's field names."""
    return {
        "name": part.grade_id,
        "score": score,
        "max_score": part.points,
        "status": "passed" if score >= part.points else "failed",
        "output": _clip(output),
        "visibility": part.visibility,
    }


def _clip(text):
    """Keeps an output readable however much a submission holds or prints."""
    if len(text) <= MAX_OUTPUT_CHARACTERS:
        return text
    return text[:MAX_OUTPUT_CHARACTERS] + "\n[... the rest is cut]"


def error_texts(autograded_path):
    """Each graded cell's error, whole: what was expected, found, and the hints.

    grading.failures_in keeps the first line for a class's table; students
    need the rest, which is where the checks put the `diagnosis:` lines.
    """
    notebook = nbformat.read(autograded_path, as_version=4)
    texts = {}
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if grade_id and errors:
            error = errors[-1]
            text = f"{error.get('ename', 'Error')}: {error.get('evalue', '')}"
            texts[grade_id] = _ANSI_ESCAPE.sub("", text).strip()
    return texts


def write_results(path, results):
    """Writes results.json whole or not at all (Gradescope may read it any time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(results, indent=1))
    partial.replace(path)


# ## Command line

def main(argv=None):
    """``python -m autograder.gradescope run --root PATH``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder.gradescope",
        description="Grade one Gradescope submission (what run_autograder calls).")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run_parser = commands.add_parser(
        "run", help="grade ROOT/submission/ into ROOT/results/results.json")
    run_parser.add_argument(
        "--root", type=Path, default=DEFAULT_ROOT,
        help=f"Gradescope's autograder folder (default {DEFAULT_ROOT})")
    args = parser.parse_args(argv)
    if not args.root.is_dir():
        parser.error(f"--root {args.root}: no such folder")
    results = run(args.root)
    print(f"score {results['score']:g}: {results['output']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
