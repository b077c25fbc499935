"""The solutions notebook, top to bottom, as a student runs it: full training.

Run by `make test-training`, not by `make test`: on 2026-12-01 the 18 epochs
took 73 min on one core beside the suite (an epoch 110 s on both cores alone,
against 15 s on 2026-11-23), more than CI's whole budget less the rest of
the suite. benchmarks/train_reference.py records the same settings'
accuracy and time over three seeds in the README.
"""

import json

import nbformat
import pytest
from nbclient import NotebookClient

from autograder import course

# Target from the issue: the full run reaches at least 95% test accuracy.
MIN_TEST_ACCURACY = 0.95
REPORT_CELL = "import json; print(json.dumps({'test_accuracy': float(test_accuracy)}))"


@pytest.mark.slow
@pytest.mark.training
def test_full_run_trains_to_95_percent(monkeypatch):
    """Does the notebook train ResNet-50 to 95% test accuracy without the grader's shortcut?"""
    for name, value in course.grading_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    notebook = nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell(REPORT_CELL))
    # The cell timeout only guards against a hang, below CI's 90 minutes: the
    # 18-epoch training cell took about 360 s on 2026-11-23, and over 25 min
    # on 2026-12-01, when the machine ran at a third of its speed, and it
    # shares the cores with the other half of the suite.
    client = NotebookClient(
        notebook, timeout=4800, kernel_name="python3",
        resources={"metadata": {"path": str(course.SOURCE_ASSIGNMENT)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    report = json.loads(notebook.cells[-1].outputs[0]["text"])
    print(f"full run test accuracy: {report['test_accuracy']:.1%}")
    assert report["test_accuracy"] >= MIN_TEST_ACCURACY
