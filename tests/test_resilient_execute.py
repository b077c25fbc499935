"""A cell that hangs or kills its kernel costs only that cell.

These run real Jupyter kernels (plain Python, no TensorFlow) through the
executor nbgrader uses when grading, with a short cell timeout.
"""

import nbformat
import pytest

from autograder.resilient_execute import ResilientExecute

CELL_TIMEOUT = 5


def run(*sources, **settings):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(source) for source in sources],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}})
    executor = ResilientExecute(timeout=CELL_TIMEOUT, recovery_timeout=3, **settings)
    executor.preprocess(notebook, {"metadata": {"path": "."}})
    return notebook.cells


def stdout(cell):
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def error_names(cell):
    return [o.ename for o in cell.outputs if o.output_type == "error"]


@pytest.mark.parametrize("fault, error", [
    ("import os\nos._exit(0)", "KernelDied"),
    ("import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass",
     "KernelRestarted"),
])
def test_the_kernel_is_restarted_and_earlier_definitions_replayed(fault, error):
    """After a cell kills the kernel or ignores the interrupt, do later cells run,
    with the definitions of the cells before the fault?"""
    cells = run("answer = 6 * 7", fault, "print(answer)")
    assert error in error_names(cells[1])
    assert stdout(cells[2]) == "42\n"
    assert error_names(cells[2]) == []


def test_an_interruptible_loop_is_stopped_and_the_kernel_kept():
    """Is a plain infinite loop interrupted at the timeout, without a restart?"""
    cells = run("answer = 42", "while True:\n    pass", "answer += 1\nprint(answer)")
    assert "CellTimeoutError" in error_names(cells[1])
    assert "KernelRestarted" not in error_names(cells[1])
    assert stdout(cells[2]) == "43\n"


def test_a_faulty_cell_is_not_replayed():
    """Does the replay leave out the cell that failed, so it cannot strike again?"""
    cells = run("count = 0", "count += 1\nimport os\nos._exit(0)", "print(count)")
    assert stdout(cells[2]) == "0\n"


def test_huge_output_is_cut():
    """Is a cell's printed output cut to the configured size, with a note?"""
    cells = run('print("x" * 1_000_000)', max_output_characters=1000)
    text = stdout(cells[0])
    assert len(text) < 1100
    assert "characters of output cut by the grader" in text
