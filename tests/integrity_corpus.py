"""Bad and adversarial submissions, each with the outcome grading must give it.

Every case starts from the source notebook (all three exercises solved) and
changes one thing: a fault a student makes by accident, or a cheat made on
purpose. The corpus is written in nbgrader's submitted/<student>/<assignment>/
layout, so a renamed notebook is a real case. Each edit checks that it found
what it replaces, so a changed notebook cannot silently turn a case into a
correct submission.

Points per exercise: identity_block 3, convolutional_block 3, ResNet50 4.
ResNet50 is built from the student's own blocks, so a broken identity_block
costs ResNet50 too. A cheat costs every exercise tested after the cell it
is in (the cell's metadata, which would say which exercise it belongs to, is
the student's to forge), and reading the grader costs all three.
"""

from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import cgroups, course

FULL = {"identity_block": 3, "convolutional_block": 3, "ResNet50": 4}
ONLY_CONVOLUTIONAL = {"identity_block": 0, "convolutional_block": 3, "ResNet50": 0}
ONLY_IDENTITY = {"identity_block": 3, "convolutional_block": 0, "ResNet50": 0}
ONLY_BLOCKS = {"identity_block": 3, "convolutional_block": 3, "ResNet50": 0}
NOTHING = {"identity_block": 0, "convolutional_block": 0, "ResNet50": 0}
# Touched gigabytes meet the resident-memory cgroup before the address-space
# rlimit; without cgroups, the rlimit raises MemoryError in the kernel.
MEMORY_BOMB_REASON = "--memory-limit" if not cgroups.cgroup_problem() else "MemoryError"


@dataclass(frozen=True)
class Case:
    """One submission and what grading must make of it.

    Attributes:
        student: the student id (the folder name in submitted/).
        kind: "fault", "cheat" or "honest".
        what: one line for the closing note and test ids.
        scores: exercise -> expected points; None when the status is failed.
        reason: text the grades.csv reason must contain ("" for none).
        flagged: whether the report must flag it as a cheat.
        notebook_name: the file name in the student's folder.
    """

    student: str
    kind: str
    what: str
    scores: dict | None
    reason: str = ""
    flagged: bool = False
    notebook_name: str = course.NOTEBOOK
    edits: tuple = field(default=(), compare=False)
    raw: bytes | None = field(default=None, compare=False)


def _solution(grade_id):
    return ("solution", grade_id)


def _after(grade_id):
    return ("insert_after", grade_id)


# Edits: (where, old, new). where is ("solution", grade_id) to replace text in
# that cell, ("insert_after", grade_id) to add a code cell `new` after it,
# ("delete", grade_id), ("duplicate", grade_id) or ("source", grade_id) to
# replace the whole cell's source with `new`.
CASES = (
    Case("honest_correct", "honest", "the solution", FULL),
    Case("honest_shortcut_after_relu", "honest", "a typical mistake in identity_block",
         ONLY_CONVOLUTIONAL, "identity_block", edits=(
             (_solution("identity_block_solution"),
              '    X = layers.BatchNormalization(axis=3)(X)\n\n'
              '    X = layers.Add()([X, X_shortcut])\n'
              '    X = layers.Activation("relu")(X)\n',
              '    X = layers.BatchNormalization(axis=3)(X)\n'
              '    X = layers.Activation("relu")(X)\n\n'
              '    X = layers.Add()([X, X_shortcut])\n'),)),
    Case("honest_short_stage", "honest", "a stage one block short", ONLY_BLOCKS,
         "ResNet50", edits=(
             (_solution("ResNet50_solution"), "([256, 256, 1024], 2, 5)",
              "([256, 256, 1024], 2, 4)"),)),
    # Faults ----------------------------------------------------------------
    Case("fault_syntax_error", "fault", "a syntax error in identity_block",
         ONLY_CONVOLUTIONAL, "identity_block", edits=(
             (_solution("identity_block_solution"), "    F1, F2, F3 = filters\n",
              "    F1, F2, F3 = filters)\n"),)),
    Case("fault_infinite_loop", "fault", "an infinite loop in an extra cell", FULL,
         "CellTimeoutError", edits=(
             (_after("identity_block"), None, "while True:\n    pass"),)),
    Case("fault_loop_ignores_interrupt", "fault", "a loop that ignores SIGINT", FULL,
         "KernelRestarted", edits=(
             (_after("identity_block"), None,
              "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
              "while True:\n    pass"),)),
    Case("fault_sys_exit", "fault", "sys.exit() in an extra cell", FULL, "SystemExit",
         edits=((_after("identity_block"), None, "import sys\nsys.exit()"),)),
    Case("fault_os_exit", "fault", "os._exit() in an extra cell", FULL, "KernelDied",
         edits=((_after("identity_block"), None, "import os\nos._exit(0)"),)),
    Case("fault_memory_bomb", "fault", "a memory bomb in an extra cell", FULL,
         MEMORY_BOMB_REASON, edits=(
             (_after("identity_block"), None,
              "def hoard():\n    held = []\n    while True:\n"
              "        held.append(bytearray(2**30))\nhoard()"),)),
    Case("fault_huge_output", "fault", "50 MB of printed output", FULL, "", edits=(
        (_after("identity_block"), None, 'print("x" * 50_000_000)'),)),
    Case("fault_test_cell_deleted", "fault", "the identity_block test cell deleted", FULL,
         "", edits=((("delete", "identity_block"), None, None),)),
    Case("fault_test_cell_edited", "fault", "the identity_block test cell edited", FULL,
         "", edits=((("source", "identity_block"), None,
                     'print("All tests passed")'),)),
    Case("fault_test_cell_duplicated", "fault", "the identity_block test cell duplicated",
         FULL, "", edits=((("duplicate", "identity_block"), None, None),)),
    Case("fault_hidden_test_marker", "fault", "a hidden-test marker typed into a cell",
         FULL, "no feedback page", edits=(
             (_after("ResNet50"), None,
              "### BEGIN HIDDEN TESTS\nprint('my own tests')\n### END HIDDEN TESTS"),)),
    Case("fault_renamed_notebook", "fault", "the notebook renamed", FULL, "renamed",
         notebook_name="Residual_Networks-Copy1.ipynb"),
    Case("fault_empty_file", "fault", "an empty file", None, "empty", raw=b""),
    Case("fault_corrupt_json", "fault", "JSON cut off half-way", None,
         "not a readable notebook", raw=b'{"cells": [{"cell_type": "code", "sou'),
    Case("fault_not_a_notebook", "fault", "a PNG saved as .ipynb", None, "not a notebook",
         raw=b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"),
    Case("fault_missing_function", "fault", "identity_block renamed away",
         ONLY_CONVOLUTIONAL, "identity_block", edits=(
             (_solution("identity_block_solution"), "def identity_block(X, f, filters):",
              "def identity_blok(X, f, filters):"),)),
    Case("fault_wrong_return_type", "fault", "convolutional_block returns a shape",
         ONLY_IDENTITY, "convolutional_block", edits=(
             (_solution("convolutional_block_solution"), "\n    return X",
              "\n    return X.shape"),)),
    Case("fault_long_training", "fault", "a 50-epoch training run left in", FULL,
         "CellTimeoutError", edits=(
             (_after("ResNet50"), None,
              "long_run = ResNet50()\nlong_run.compile(optimizer='adam', "
              "loss='categorical_crossentropy')\n"
              "X_all, Y_all, _, _, _ = signs.load_signs()\n"
              "long_run.fit(X_all, Y_all, epochs=50)"),)),
    # Cheats ----------------------------------------------------------------
    Case("cheat_patch_numpy", "cheat", "numpy's comparisons patched, block unfinished",
         NOTHING, "identity_block", True, edits=(
             (_solution("identity_block_solution"), "    F1, F2, F3 = filters\n",
              "    F1, F2, F3 = filters\n"
              "    np.allclose = lambda *args, **kwargs: True\n"
              "    np.testing.assert_allclose = lambda *args, **kwargs: None\n"
              "    return X\n"),)),
    Case("cheat_swallow_errors", "cheat", "a custom exception handler, block unfinished",
         NOTHING, "", True, edits=(
             (_solution("identity_block_solution"), "    F1, F2, F3 = filters\n",
              "    raise NotImplementedError()\n"),
             (_after("identity_block_solution"), None,
              "get_ipython().set_custom_exc((BaseException,), lambda *args, **kwargs: None)"),
         )),
    Case("cheat_blank_later_cells", "cheat", "an input transformer that blanks cells",
         NOTHING, "", True, edits=(
             (_solution("identity_block_solution"), "    F1, F2, F3 = filters\n",
              "    raise NotImplementedError()\n"),
             (_after("identity_block_solution"), None,
              "get_ipython().input_transformers_cleanup.append(lambda lines: [])"),
         )),
    Case("cheat_fake_pass", "cheat", "prints a fake 'All tests passed', block unfinished",
         ONLY_CONVOLUTIONAL, "identity_block", True, edits=(
             (_solution("identity_block_solution"), "    F1, F2, F3 = filters\n",
              '    print("All tests passed! 10/10")\n    raise NotImplementedError()\n'),)),
    Case("cheat_import_reference", "cheat", "imports the grader's reference",
         NOTHING, "identity_block", True, edits=(
             (_solution("identity_block_solution"), "def identity_block(X, f, filters):",
              "from autograder.reference import identity_block as _answer\n\n\n"
              "def identity_block(X, f, filters):\n    return _answer(X, f, filters)\n\n\n"
              "def _unused(X, f, filters):"),)),
    Case("cheat_read_source_notebook", "cheat", "execs the solution from the source notebook",
         NOTHING, "identity_block", True, edits=(
             (_solution("identity_block_solution"), "def identity_block(X, f, filters):",
              "import json as _json\n"
              "_cells = _json.load(open('../../../source/residual_networks/"
              "Residual_Networks.ipynb'))['cells']\n"
              "exec(next(''.join(c['source']) for c in _cells\n"
              "          if 'def identity_block' in ''.join(c['source'])))\n\n\n"
              "def _unused(X, f, filters):"),)),
    Case("cheat_read_gradebook", "cheat", "reads the gradebook (it holds every grade)",
         NOTHING, "", True, edits=(
             (_after("ResNet50"), None,
              "import sqlite3\nsqlite3.connect('../../../gradebook.db').execute("
              "'update grade set auto_score = 10')"),)),
    Case("cheat_keras_applications", "cheat", "ResNet50 from keras.applications",
         ONLY_BLOCKS, "ResNet50", True, edits=(
             (_solution("ResNet50_solution"), "    X_input = keras.Input(shape=input_shape)\n",
              "    return keras.applications.ResNet50(weights=None, input_shape=input_shape,"
              " classes=classes)\n    X_input = keras.Input(shape=input_shape)\n"),)),
)


def write_corpus(folder, cases=CASES):
    """Writes every case under `folder`/submitted/; returns the folder."""
    source = nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)
    for case in cases:
        target = Path(folder) / "submitted" / case.student / course.ASSIGNMENT
        target.mkdir(parents=True, exist_ok=True)
        path = target / case.notebook_name
        if case.raw is not None:
            path.write_bytes(case.raw)
            continue
        notebook = nbformat.from_dict(source)  # a deep copy
        for where, old, new in case.edits:
            _apply(notebook, where, old, new, case.student)
        nbformat.write(notebook, path)
    return Path(folder)


def _apply(notebook, where, old, new, student):
    action, grade_id = where
    index = _index_of(notebook, grade_id, student)
    cell = notebook.cells[index]
    if action == "solution":
        if cell.source.count(old) != 1:
            raise ValueError(f"corpus case {student!r}: expected one {old.strip()!r} in "
                             f"cell {grade_id!r}, found {cell.source.count(old)}")
        cell.source = cell.source.replace(old, new)
    elif action == "source":
        cell.source = new
    elif action == "insert_after":
        notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(new))
    elif action == "delete":
        del notebook.cells[index]
    elif action == "duplicate":
        notebook.cells.insert(index + 1, nbformat.from_dict(cell))
    else:
        raise ValueError(f"corpus case {student!r}: unknown edit {action!r}")


def _index_of(notebook, grade_id, student):
    for index, cell in enumerate(notebook.cells):
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return index
    raise ValueError(f"corpus case {student!r}: no cell with grade_id {grade_id!r}")
