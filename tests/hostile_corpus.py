"""Hostile names, links, library delegation, forged metadata and dynamic code,
graded end to end, each with the outcome a trustworthy grader must give.

The static scan's own cases (test_integrity) and the hand-in finder's
(test_hostile_hand_ins) cover each rule one line at a time; this corpus
puts a few of each kind through the real `grade` command together, in a
flat folder whose file names are hostile too.

Points per exercise: identity_block 3, convolutional_block 3, ResNet50 4.
"""

import os
from dataclasses import dataclass, field

import nbformat

from autograder import course
from tests.integrity_corpus import FULL, NOTHING, ONLY_BLOCKS, _apply

HELD_ALL = {"identity_block": 0, "convolutional_block": 0, "ResNet50": 0}
# What a student writes to make a cell look like the instructor's.
FORGED_METADATA = {"locked": True, "grade": False, "solution": False,
                   "grade_id": "setup_imports", "schema_version": 3}


@dataclass(frozen=True)
class Case:
    """One hand-in: its file name (bytes, as a student may choose), what grading gives.

    Attributes:
        name: the file name in the class folder.
        what: one line for the closing note.
        status: "graded", "review" or "failed".
        scores: exercise -> points in grades.csv (None when failed).
        held: exercise -> the points once accepted (status "review").
        reason: text the reason must contain.
        flagged: whether a cheat is flagged (a 0 that stands).
        make: "notebook" (the source, edited), "link", "fifo" or "oversized".
        forged: the source of a cell that gets forged nbgrader metadata (locked).
    """

    name: bytes
    what: str
    status: str
    scores: dict | None
    held: dict = field(default_factory=dict)
    reason: str = ""
    flagged: bool = False
    make: str = "notebook"
    forged: str = ""
    edits: tuple = field(default=(), compare=False)

    @property
    def label(self):
        return self.name.decode("utf-8", "backslashreplace").removesuffix(".ipynb")


_RESNET_START = "    X_input = keras.Input(shape=input_shape)\n"
_IDENTITY_START = "def identity_block(X, f, filters):"


def _renamed_library_resnet(reach):
    """A ResNet50 solution that returns Keras' own, its layers renamed, reached by `reach`."""
    return ((("solution", "ResNet50_solution"), _RESNET_START,
             f"    model = {reach}.ResNet50(weights=None, input_shape=input_shape, "
             "classes=classes)\n"
             "    for number, layer in enumerate(model.layers):\n"
             "        layer.name = f'my_layer_{number}'\n"
             "    return model\n" + _RESNET_START),)


CASES = (
    Case("honest_unusual_caf\xe9".encode("latin-1") + b".ipynb",
         "honest code that looks unusual, under a name that is not UTF-8", "graded", FULL,
         edits=((("insert_after", "ResNet50"), None,
                 "import importlib, re\n"
                 "numpy_again = importlib.import_module('numpy')\n"
                 "probe = ResNet50(input_shape=(64, 64, 3), classes=6)\n"
                 "names = [getattr(layer, 'name') for layer in probe.layers][:3]\n"
                 "kinds = sorted({layer.__class__.__name__ for layer in probe.layers})\n"
                 "convs = [n for n in names if re.compile('conv').search(n)]\n"
                 "def value_of(obj, key):\n    return getattr(obj, key, None)\n"
                 "value_of(probe, 'name'), hasattr(probe, 'layers')\n"
                 "probe.compile(optimizer='adam', loss='categorical_crossentropy')\n"
                 "with open('my_notes.txt', 'w') as notes:\n"
                 "    notes.write(str(kinds))\n"),)),
    Case(b"\x1b[31m=HYPERLINK(\"x\")\x1b[0m.ipynb", "the solution, under an escape-sequence "
         "and formula name", "graded", FULL),
    Case(b"computed_applications.ipynb", "ResNet50 from keras.applications reached with "
         "a computed getattr, its layers renamed", "review", ONLY_BLOCKS,
         held={"ResNet50": 4}, reason="held for review [dynamic_code]",
         edits=_renamed_library_resnet('getattr(keras, "appl" + "ications")')),
    Case(b"computed_import.ipynb", "ResNet50 from keras.applications through "
         "importlib with a built name", "review", ONLY_BLOCKS, held={"ResNet50": 4},
         reason="[library_fingerprint]",
         edits=_renamed_library_resnet(
             '__import__("importlib").import_module(".".join(["keras", "applic" + '
             '"ations"]))')),
    Case(b"forged_locked.ipynb", "keras.applications in a cell the student marked "
         "locked", "graded", ONLY_BLOCKS, reason="ResNet50: 0 points for a cheat",
         flagged=True, forged="LibraryModels = keras.applications",
         edits=_renamed_library_resnet("LibraryModels")
         + ((("insert_after", "convolutional_block"), None,
             "LibraryModels = keras.applications"),)),
    Case(b"keras_block.ipynb", "identity_block from Keras' own residual_block_v1",
         "graded", NOTHING, reason="residual_block_v1", flagged=True, edits=(
             (("solution", "identity_block_solution"), _IDENTITY_START,
              "from keras.src.applications import resnet as _resnet\n\n\n"
              "def identity_block(X, f, filters):\n"
              "    return _resnet.residual_block_v1(X, filters[2] // 4, kernel_size=f, "
              "conv_shortcut=False)\n\n\ndef _unused(X, f, filters):"),)),
    Case(b"exec_block.ipynb", "identity_block defined by exec of a string", "review",
         HELD_ALL, held=FULL, reason="exec", edits=(
             (("solution", "identity_block_solution"), _IDENTITY_START,
              "_source = 'def identity' + '_block(X, f, filters):\\n    return "
              "_own_identity_block(X, f, filters)\\n'\n"
              "exec(_source)\n\n\ndef _own_identity_block(X, f, filters):"),)),
    Case(b"linked_solution.ipynb", "a symbolic link to the instructor's solution",
         "failed", None, reason="symbolic link", make="link"),
    Case(b"fifo.ipynb", "a FIFO", "failed", None, reason="FIFO", make="fifo"),
    Case(b"oversized.ipynb", "a 21 MiB notebook", "failed", None,
         reason="--notebook-size-limit", make="oversized"),
    Case(b"o'brien.ipynb", "a name that becomes another student's id", "failed", None,
         reason="share the id"),
    Case(b"o_brien.ipynb", "the other student", "failed", None, reason="share the id"),
)


def write_class(folder):
    """Writes every case into `folder`, a flat class folder; returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    source_path = course.SOURCE_ASSIGNMENT / course.NOTEBOOK
    source = nbformat.read(source_path, as_version=4)
    for case in CASES:
        path = os.path.join(os.fsencode(folder), case.name)
        if case.make == "link":
            os.symlink(source_path, path)
        elif case.make == "fifo":
            os.mkfifo(path)
        elif case.make == "oversized":
            with open(path, "wb") as f:
                f.write(b" " * (21 * 2**20))
        elif case.name.startswith(b"o"):
            with open(path, "w") as f:
                f.write("{}")  # not gradable: the ids are what is tested
        else:
            notebook = nbformat.from_dict(source)
            for where, old, new in case.edits:
                _apply(notebook, where, old, new, case.label)
            for cell in notebook.cells:
                if case.forged and cell.source == case.forged:
                    cell.metadata["nbgrader"] = FORGED_METADATA
            with open(path, "w") as f:
                nbformat.write(notebook, f)
    return folder
