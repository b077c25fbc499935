"""The hidden checks, whole, in one process: export a function, then verify it.

Grading splits each check in two: the student's kernel only exports
(``exporter``) and a separate process verifies (``verify``). Tests, the
benchmarks and anyone checking a function by hand want the verdict in one
call; these functions run both halves in a row on a temporary folder, so
they take exactly the grading path.

A failure raises GradingFailure whose message ends with the diagnosed
mistakes, each on a ``diagnosis: <tag>`` line followed by a hint. An error
raised by the student's code becomes a failure too (its traceback chained),
except NotImplementedError, which an unfinished exercise raises plainly.
"""

import tempfile
from pathlib import Path

from autograder import diagnostics, verify
from autograder.comparison import GradingFailure
from autograder.kernel import exporter

__all__ = ["GradingFailure", "grade_identity_block", "grade_convolutional_block",
           "grade_resnet50"]


def grade_identity_block(identity_block):
    """Raises GradingFailure unless `identity_block` computes the reference's block;
    returns the Verdict."""
    __tracebackhide__ = True  # pytest shows the message, not this frame
    return _grade("identity_block", exporter.export_identity_block, identity_block)


def grade_convolutional_block(convolutional_block):
    """Raises GradingFailure unless `convolutional_block` computes the reference's;
    returns the Verdict."""
    __tracebackhide__ = True
    return _grade("convolutional_block", exporter.export_convolutional_block,
           convolutional_block)


def grade_resnet50(ResNet50):
    """Raises GradingFailure unless `ResNet50` builds the reference's model; returns
    the Verdict."""
    __tracebackhide__ = True
    return _grade("ResNet50", exporter.export_resnet50, ResNet50)


def _grade(exercise, export, student_function):
    __tracebackhide__ = True
    with tempfile.TemporaryDirectory(prefix="check-") as export_root:
        try:
            export(student_function, export_dir=export_root)
        except exporter.ExportFailure as error:
            # Say what the student's code raised, then what the models it
            # saved before raising show.
            found = diagnostics.diagnose_folder(Path(export_root) / exercise, exercise)
            message = f"{error}\n{diagnostics.format_diagnoses(found)}".rstrip()
            raise GradingFailure(message) from error.__cause__
        verdict = verify.verify_exercise(export_root, exercise)
    if not verdict.passed:
        raise GradingFailure(verdict.message)
    print(verdict.message)
    return verdict
