"""The instructor's command line: ``python -m autograder COMMAND``."""

import argparse
import sys
from pathlib import Path

from autograder import grading


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
                       help="folder for grades.csv, results.json, feedback/ and autograded/")
    add_grading_options(grade)
    grade.set_defaults(run=run_grade)

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


def add_grading_options(parser):
    defaults = grading.Limits()
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--cell-timeout", type=positive_int, default=defaults.cell_seconds,
                        help=f"seconds one cell may run (default {defaults.cell_seconds})")
    parser.add_argument("--submission-timeout", type=positive_int,
                        default=defaults.submission_seconds,
                        help="seconds one submission may take in all "
                             f"(default {defaults.submission_seconds})")
    parser.add_argument("--memory-limit", type=positive_int,
                        default=defaults.memory_bytes // 2**20, metavar="MIB",
                        help="address space of one student's kernel, in MiB "
                             f"(default {defaults.memory_bytes // 2**20})")
    parser.add_argument("--sandbox", choices=("auto", "bubblewrap", "none"),
                        default=defaults.sandbox,
                        help="isolate each kernel with bubblewrap: auto uses it where it "
                             "runs, bubblewrap insists on it, none turns it off "
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
    return grading.Limits(cell_seconds=args.cell_timeout,
                          submission_seconds=args.submission_timeout,
                          memory_bytes=args.memory_limit * 2**20, sandbox=args.sandbox)


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
        batch.grade_class(args.submissions, args.out, args.workers, limits_from(args))
    except (submissions.SubmissionsError, ValueError) as error:
        print(f"python -m autograder grade: error: {error}", file=sys.stderr)
        return 2
    print(f"Grades: {args.out / batch.GRADES_FILE}\nFeedback: {args.out / 'feedback'}")


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
