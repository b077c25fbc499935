"""A made course kept between grading runs, so grading starts without waiting.

Every grading run needs a course made by ``course.make_course``, which runs
``nbgrader generate_assignment`` (about 5 s). The course depends only on the
source assignment's files, the course configuration, the cell timeout and
nbgrader's version, so it is kept in the user's cache folder under a hash
of those: an edited notebook gets a new one, never a stale one. Each
submission is still graded in its own copy (``course.clone_course``).
"""

import hashlib
import os
import tempfile
from pathlib import Path

import nbgrader

from autograder import course

_SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}


def cache_folder():
    """$XDG_CACHE_HOME/residual-networks-grader, or under ~/.cache."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "residual-networks-grader"


def template_key(source_assignment, cell_timeout):
    """A hash of everything the made course depends on."""
    digest = hashlib.sha256()
    for text in (course.COURSE_CONFIG, str(cell_timeout), nbgrader.__version__):
        digest.update(text.encode() + b"\0")
    source_assignment = Path(source_assignment)
    for path in sorted(source_assignment.rglob("*")):
        if path.is_file() and not _SKIPPED_PARTS.intersection(path.parts):
            digest.update(str(path.relative_to(source_assignment)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:20]


def template_course(cell_timeout=120, source_assignment=course.SOURCE_ASSIGNMENT,
                    folder=None):
    """A course made by course.make_course for these inputs; made now if not kept yet.

    Args:
        cell_timeout: seconds one notebook cell may run while grading.
        source_assignment: folder holding the nbgrader source notebook.
        folder: where courses are kept (default: cache_folder()).

    Returns:
        The kept course's root. Copy it with course.clone_course; never grade in it.
    """
    folder = Path(folder) if folder else cache_folder()
    target = folder / f"course-{template_key(source_assignment, cell_timeout)}"
    if target.is_dir():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix="making-") as scratch:
        made = course.make_course(Path(scratch) / "course", source_assignment, cell_timeout)
        course.retarget_config(made, made, target)
        try:
            # Atomic: a run that looks finds a whole course or none at all.
            os.rename(made, target)
        except OSError:
            if not target.is_dir():  # not a run that finished first: a real failure
                raise
    return target
