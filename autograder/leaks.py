"""The leak scan: a student release must hold no answers and no grader.

`release` runs it on every file it is about to put in the student bundle
and refuses to write a bundle that fails it. It looks for three things:
nbgrader's solution and hidden-test markers, any line of solution code from
the source notebook, and any trace of the grader (its package, the
reference implementation, a gradebook).
"""

import re
from pathlib import Path

import nbformat

from autograder import course

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
GRADER_PATTERNS = (
    re.compile(r"\bautograder\b"),
    re.compile(r"\bgrade_(identity_block|convolutional_block|resnet50)\b"),
    re.compile(r"\breference\.py\b"),
)
FORBIDDEN_NAMES = {"reference.py", "gradebook.db", "nbgrader_config.py"}
FORBIDDEN_FOLDERS = {"solutions", "autograder", "source", "submitted", "autograded"}
TEXT_SUFFIXES = {".py", ".ipynb", ".md", ".txt", ".json", ".cfg", ".toml", ".yml"}
# Shorter solution lines ("return X", "F1, F2, F3 = filters") also appear in
# the starter code, so only distinctive lines count as leaks.
MIN_SOLUTION_LINE = 13


class LeakError(ValueError):
    """The release holds something students must not see; the message says what."""


def solution_lines(notebook):
    """The distinctive code lines between BEGIN and END SOLUTION markers."""
    lines = set()
    for cell in notebook.cells:
        inside = False
        for line in cell.source.splitlines():
            if "### BEGIN SOLUTION" in line:
                inside = True
            elif "### END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) >= MIN_SOLUTION_LINE:
                lines.add(line.strip())
    return lines


def find_leaks(files, source_notebook=course.SOURCE_ASSIGNMENT / course.NOTEBOOK):
    """Lists what must not be in a release, one message per finding.

    Args:
        files: mapping from the name a file gets in the release to its path.
        source_notebook: the nbgrader source whose solutions must not leak.
    """
    answers = solution_lines(nbformat.read(source_notebook, as_version=4))
    found = []
    for name, path in sorted(files.items()):
        name = Path(name)
        if name.name in FORBIDDEN_NAMES or FORBIDDEN_FOLDERS.intersection(name.parts[:-1]):
            found.append(f"{name}: a grader or instructor file")
            continue
        if name.suffix not in TEXT_SUFFIXES:
            continue
        text = _readable_text(Path(path))
        found += [f"{name}: contains the marker {m!r}" for m in MARKERS if m in text]
        found += [f"{name}: mentions the grader ({p.pattern})"
                  for p in GRADER_PATTERNS if p.search(text)]
        stripped = {line.strip() for line in text.splitlines()}
        found += [f"{name}: contains solution code {line!r}"
                  for line in sorted(answers & stripped)]
    return found


def _readable_text(path):
    """A file's text; for a notebook, its cells' sources as a person reads them."""
    text = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        try:
            notebook = nbformat.reads(text, as_version=4)
        except Exception:  # not a valid notebook: scan the raw text instead
            return text
        return "\n".join(cell.source for cell in notebook.cells)
    return text


def check_release(files, source_notebook=course.SOURCE_ASSIGNMENT / course.NOTEBOOK):
    """Raises LeakError listing every leak in `files`; returns None if clean."""
    found = find_leaks(files, source_notebook)
    if found:
        raise LeakError("the student release leaks; no bundle was written:\n  "
                        + "\n  ".join(found))
