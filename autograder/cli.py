"""The instructor's command line: ``python -m autograder COMMAND``."""

import argparse
import sys
from pathlib import Path

from autograder import grading
from autograder.safe_text import printable


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Release, grade and report on the Residual Networks assignment.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the instructor demo on the shipped demo class")
    demo.add_argument("--out", type=Path, default=Path("out/demo"),
                      help="folder for the demo's grades, feedback and report "
                           "(default: out/demo)")
    demo.set_defaults(run=run_demo)

    release = commands.add_parser(
        "release", help="regenerate assignment/ with nbgrader and write the student zip",
        description="Regenerate assignment/ from solutions/ with nbgrader generate_assignment, "
                    "scan it for leaks, and write dist/<assignment>-student.zip.")
    release.set_defaults(run=run_release)

    grade = commands.add_parser(
        "grade", help="autograde a class in parallel",
        description="Autograde every submission in a folder or zip: one notebook per "
                    "student (file name = student id), or nbgrader's submitted/ layout.")
    grade.add_argument("submissions", type=Path, help="folder or .zip of submissions")
    grade.add_argument("--out", type=Path, required=True,
                       help="folder for grades.csv, results.json, feedback/ and autograded/; "
                            "a run into the same folder resumes: it grades only what "
                            "its journal, results.jsonl, does not hold yet")
    grade.add_argument("--restart", action="store_true",
                       help="set the journal aside and grade every submission again")
    add_grading_options(grade)
    grade.set_defaults(run=run_grade)

    accept = commands.add_parser(
        "accept", help="give a held exercise its points after reading the code",
        description="Release an exercise held for review (status 'review') in a grading "
                    "run: it gets the points it earned, and the student's row, feedback "
                    "and the report are rewritten. The decision goes to "
                    "OUT/review-decisions.jsonl.")
    accept.add_argument("out", type=Path, help="the --out folder of a grading run")
    accept.add_argument("student", help="the student id, as in grades.csv")
    accept.add_argument("exercise", help="the exercise held, as in grades.csv")
    accept.add_argument("--why", required=True,
                        help="why the code is acceptable, for the audit file")
    accept.set_defaults(run=run_accept)

    report = commands.add_parser("report", help="write OUT/report.html from a grading run")
    report.add_argument("out", type=Path, help="the --out folder of a grading run")
    report.set_defaults(run=run_report)

    gradescope = commands.add_parser(
        "gradescope", help="write dist/autograder.zip, the autograder to upload to "
                           "Gradescope (see autograder/gradescope.py)")
    gradescope.add_argument("--dist", type=Path, default=None,
                            help="folder for autograder.zip (default: the repository's dist/)")
    gradescope.set_defaults(run=run_gradescope)
    return parser


# Each limit's option: (flag, grading.Limits field, unit, what it caps). The
# defaults, and their reasons, live in grading.Limits.
LIMIT_OPTIONS = (
    ("--cell-timeout", "cell_seconds", "s", "seconds one cell may run"),
    ("--cpu-limit", "cpu_seconds", "s",
     "CPU seconds each kernel process may use from each (re)start (RLIMIT_CPU)"),
    ("--submission-timeout", "submission_seconds", "s",
     "seconds one submission may take in all"),
    ("--memory-limit", "memory_bytes", "MiB",
     "resident memory of one student's kernel, tmpfs included (a cgroup)"),
    ("--address-space-limit", "address_space_bytes", "MiB",
     "address space of one student's kernel (past it: MemoryError)"),
    ("--max-processes", "max_processes", "", "processes and threads of one kernel"),
    ("--max-open-files", "max_open_files", "", "open files of one kernel process"),
    ("--disk-limit", "disk_bytes", "MiB",
     "size of the kernel's writable home and /tmp, and of any file it writes"),
    ("--cell-output-limit", "cell_output_bytes", "MiB",
     "all outputs of one cell, every kind"),
    ("--feedback-limit", "feedback_bytes", "MiB", "one feedback page"),
    ("--verify-timeout", "verify_seconds", "s", "seconds to verify one submission"),
    ("--verify-memory-limit", "verify_memory_bytes", "MiB",
     "resident memory of one submission's verifier"),
    ("--notebook-size-limit", "notebook_bytes", "MiB",
     "size of one handed-in notebook (refused unread past it)"),
    ("--notebook-cell-limit", "notebook_cells", "", "cells of one handed-in notebook"),
    ("--archive-size-limit", "archive_bytes", "MiB",
     "uncompressed size of a zip of submissions"),
    ("--archive-member-limit", "archive_members", "", "members of a zip of submissions"),
)
_UNIT_SCALE = {"MiB": 2**20, "s": 1, "": 1}


def add_grading_options(parser):
    defaults = grading.Limits()
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="submissions graded at once (default: the number of cores)")
    for flag, field, unit, what in LIMIT_OPTIONS:
        default = getattr(defaults, field) // _UNIT_SCALE[unit]
        parser.add_argument(flag, type=positive_int, default=default,
                            metavar={"MiB": "MIB", "s": "SECONDS"}.get(unit, "N"),
                            help=f"{what} (default {default}{' ' + unit if unit else ''})")
    parser.add_argument("--sandbox", choices=("auto", "bubblewrap", "none"),
                        default=defaults.sandbox,
                        help="isolate each kernel and verifier with bubblewrap: auto uses "
                             "it where it runs, bubblewrap insists on it, none turns it off "
                             f"(default {defaults.sandbox})")


def positive_int(text):
    """argparse type: an integer >= 1, or an error naming the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def limits_from(args):
    values = {field: getattr(args, flag[2:].replace("-", "_")) * _UNIT_SCALE[unit]
              for flag, field, unit, _ in LIMIT_OPTIONS}
    return grading.Limits(**values, sandbox=args.sandbox)


def run_demo(args):
    from autograder import demo

    return demo.run(args.out)


def run_release(args):
    from autograder import leaks, release

    target = release.generate_release()
    print(f"Student release written to {target}")
    try:
        bundle = release.write_student_bundle()
    except (leaks.LeakError, FileNotFoundError) as error:
        print(f"python -m autograder release: error: {error}", file=sys.stderr)
        return 2
    print(f"Student bundle written to {bundle}")


def run_grade(args):
    from autograder import batch, submissions

    try:
        results = batch.grade_class(args.submissions, args.out, args.workers,
                                    limits_from(args), restart=args.restart)
    except (submissions.SubmissionsError, ValueError) as error:
        print(f"python -m autograder grade: error: {printable(str(error))}", file=sys.stderr)
        return 2
    print(f"Grades: {args.out / batch.GRADES_FILE}\nFeedback: {args.out / 'feedback'}")
    broken = [r.student_id for r in results if r.grader_failed]
    if broken:  # every file is complete; these rows say what went wrong
        print(f"python -m autograder grade: the grader itself failed on {len(broken)} "
              f"submission(s): {', '.join(broken)}; see their rows", file=sys.stderr)
        return 1


def run_accept(args):
    from autograder import course, review

    try:
        result = review.accept(args.out, args.student, args.exercise, args.why)
    except (ValueError, course.NbgraderError) as error:  # ReviewError is one
        print(f"python -m autograder accept: error: {printable(str(error))}",
              file=sys.stderr)
        return 2
    print(f"{result.student_id}: {args.exercise} accepted; total now {result.total:g} "
          f"(status {result.status}). Decision kept in {args.out / review.AUDIT_FILE}")


def run_report(args):
    from autograder import report

    try:
        path = report.write_report(args.out)
    except ValueError as error:
        print(f"python -m autograder report: error: {error}", file=sys.stderr)
        return 2
    print(f"Report: {path}")


def run_gradescope(args):
    from autograder import gradescope

    try:
        package = gradescope.build_package(args.dist or gradescope.DIST_DIR)
    except FileNotFoundError as error:
        print(f"python -m autograder gradescope: error: {error}", file=sys.stderr)
        return 2
    print(f"Gradescope autograder written to {package}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.run(args) or 0
