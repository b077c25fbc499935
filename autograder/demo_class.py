"""A small demo class, made from the source notebook: right, wrong and broken.

Each demo student is the student release with the solution cells filled in,
then one typical mistake written into one exercise. Building them from
solutions/ each time keeps the demo in step with the notebook, and each
edit checks that it found what it replaces, so a changed notebook cannot
silently turn a "mistake" into a correct submission.
"""

from pathlib import Path

import nbformat

from autograder import course

# student id -> (solution cell, text to replace, replacement). The solution
# cells are the ones whose grade_id ends in "_solution".
MISTAKES = {
    "bao_shortcut_after_relu": (
        "identity_block_solution",
        '    X = layers.BatchNormalization(axis=3)(X)\n\n'
        '    X = layers.Add()([X, X_shortcut])\n'
        '    X = layers.Activation("relu")(X)\n',
        '    X = layers.BatchNormalization(axis=3)(X)\n'
        '    X = layers.Activation("relu")(X)\n\n'
        '    X = layers.Add()([X, X_shortcut])\n',
    ),
    "chioma_stride_on_middle_conv": (
        "convolutional_block_solution",
        '    X = layers.Conv2D(F1, kernel_size=1, strides=s, padding="valid")(X)\n',
        '    X = layers.Conv2D(F1, kernel_size=1, strides=1, padding="valid")(X)\n',
    ),
    "dmitri_no_shortcut_batchnorm": (
        "convolutional_block_solution",
        "    X_shortcut = layers.BatchNormalization(axis=3)(X_shortcut)\n",
        "",
    ),
    "elena_short_stage": (
        "ResNet50_solution",
        "([256, 256, 1024], 2, 5)",
        "([256, 256, 1024], 2, 4)",
    ),
}
# The stride moves to the middle conv in "chioma": keep the output size right.
MIDDLE_CONV_STRIDE = (
    '    X = layers.Conv2D(F2, kernel_size=f, strides=1, padding="same")(X)\n'
    '    X = layers.BatchNormalization(axis=3)(X)\n'
    '    X = layers.Activation("relu")(X)\n\n'
    '    X = layers.Conv2D(F3',
    '    X = layers.Conv2D(F2, kernel_size=f, strides=s, padding="same")(X)\n'
    '    X = layers.BatchNormalization(axis=3)(X)\n'
    '    X = layers.Activation("relu")(X)\n\n'
    '    X = layers.Conv2D(F3',
)
BROKEN_STUDENT = "farid_broken_json"


def write_demo_class(folder):
    """Writes one notebook per demo student into `folder`; returns their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    source = nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)
    paths = [_write(folder / "ada_correct.ipynb", source)]
    for student, (grade_id, old, new) in MISTAKES.items():
        notebook = nbformat.from_dict(source)  # a deep copy
        cell = _solution_cell(notebook, grade_id)
        cell.source = _replace(cell.source, old, new, student)
        if student == "chioma_stride_on_middle_conv":
            cell.source = _replace(cell.source, *MIDDLE_CONV_STRIDE, student)
        paths.append(_write(folder / f"{student}.ipynb", notebook))
    # A notebook cut off mid-upload: the JSON ends half-way through.
    broken = folder / f"{BROKEN_STUDENT}.ipynb"
    broken.write_text(nbformat.writes(source)[:2000])
    paths.append(broken)
    return paths


def _solution_cell(notebook, grade_id):
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise ValueError(f"the source notebook has no cell with grade_id {grade_id!r}")


def _replace(text, old, new, student):
    if text.count(old) != 1:
        raise ValueError(
            f"demo student {student!r}: expected exactly one {old.strip()!r} in the "
            f"solution cell, found {text.count(old)}; update autograder/demo_class.py")
    return text.replace(old, new)


def _write(path, notebook):
    nbformat.write(notebook, path)
    return path
