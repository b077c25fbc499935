"""Find the submissions to grade in a folder or a zip, whatever its layout.

Two layouts are understood, directly or inside a zip file:

* a flat folder with one file per student, named after the student
  (``alice.ipynb``, ``bob.ipynb``); every file counts, so a student who
  handed in ``bob.txt`` or an empty file still gets a row and a reason;
* nbgrader's ``submitted/<student>/<assignment>/`` layout, where the notebook
  may have any name (a renamed notebook is still that student's work).

Finding submissions never opens a notebook: whether a file can be graded is
for the grader to decide and report, one submission at a time.
"""

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder import course

# nbgrader uses the student id as a folder name and a database key.
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_.@+-]")
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "__MACOSX", ".ipynb_checkpoints"}


class SubmissionsError(ValueError):
    """The submissions path cannot be read; the message says why."""


@dataclass(frozen=True)
class Submission:
    """One student's hand-in: an id and the file to grade (None if missing)."""

    student_id: str
    path: Path | None
    problem: str = ""  # why there is nothing to grade, when path is None
    note: str = ""  # something the student should know, e.g. a renamed notebook


def find_submissions(path, extract_to):
    """Lists the submissions under `path`, one per student, sorted by id.

    Args:
        path: a folder or a .zip file in either layout described above.
        extract_to: an empty folder where a zip is unpacked.

    Returns:
        List of Submission.

    Raises:
        SubmissionsError: the path is missing, is not a folder or a zip, or
            holds no submission at all.
    """
    path = Path(path)
    if not path.exists():
        raise SubmissionsError(f"{path}: no such file or folder")
    if path.is_file():
        path = _unzip(path, Path(extract_to))
    root = _layout_root(path)
    if (root / "submitted").is_dir():
        found = _from_nbgrader_layout(root / "submitted")
    else:
        found = _from_flat_folder(root)
    if not found:
        raise SubmissionsError(f"{path}: holds no submissions (no files to grade)")
    return sorted(found, key=lambda s: s.student_id)


def safe_student_id(name):
    """A student id nbgrader accepts as a folder name, derived from `name`."""
    cleaned = _UNSAFE_ID_CHARACTERS.sub("_", name).strip("._") or "student"
    return cleaned


def _unzip(zip_path, extract_to):
    if not zipfile.is_zipfile(zip_path):
        raise SubmissionsError(f"{zip_path}: not a folder and not a zip file")
    extract_to.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            # A zip may name paths outside the folder ("../x"); refuse them.
            target = (extract_to / member.filename).resolve()
            if not target.is_relative_to(extract_to.resolve()):
                raise SubmissionsError(
                    f"{zip_path}: member {member.filename!r} points outside the archive"
                )
        archive.extractall(extract_to)
    return extract_to


def _layout_root(folder):
    """Steps into a single wrapping folder, as zips made from a folder have."""
    entries = [e for e in folder.iterdir() if e.name not in _IGNORED_NAMES]
    if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "submitted":
        return _layout_root(entries[0])
    return folder


def _from_flat_folder(folder):
    submissions, seen = [], set()
    for entry in sorted(folder.iterdir()):
        if entry.name in _IGNORED_NAMES or entry.name.startswith(".") or entry.is_dir():
            continue
        student_id = _unique(safe_student_id(entry.stem), seen)
        submissions.append(Submission(student_id, entry))
    return submissions


def _from_nbgrader_layout(submitted):
    submissions, seen = [], set()
    for student_folder in sorted(p for p in submitted.iterdir() if p.is_dir()):
        student_id = _unique(safe_student_id(student_folder.name), seen)
        assignment = student_folder / course.ASSIGNMENT
        notebooks = sorted(assignment.glob("*.ipynb")) if assignment.is_dir() else []
        if len(notebooks) == 1:
            renamed = notebooks[0].name != course.NOTEBOOK
            note = (f"the notebook was renamed to {notebooks[0].name}; it was graded as "
                    f"{course.NOTEBOOK}") if renamed else ""
            submissions.append(Submission(student_id, notebooks[0], note=note))
        elif not notebooks:
            submissions.append(Submission(
                student_id, None,
                f"no notebook in submitted/{student_folder.name}/{course.ASSIGNMENT}/"))
        else:
            preferred = assignment / course.NOTEBOOK
            chosen = preferred if preferred in notebooks else None
            problem = "" if chosen else (
                f"{len(notebooks)} notebooks in submitted/{student_folder.name}/"
                f"{course.ASSIGNMENT}/ and none named {course.NOTEBOOK}")
            submissions.append(Submission(student_id, chosen, problem))
    return submissions


def _unique(student_id, seen):
    """Appends -2, -3, ... when two files map to the same id."""
    candidate, number = student_id, 1
    while candidate in seen:
        number += 1
        candidate = f"{student_id}-{number}"
    seen.add(candidate)
    return candidate
