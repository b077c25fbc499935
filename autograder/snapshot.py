"""Take an exercise's exports out of its graded cell the moment the cell ends.

The hidden test cell sends the architectures it built as one display
message (``kernel.channel.EXPORT_MIME``). The grader's executor, on the
host, calls ``take_exports`` as soon as that cell has finished: the message
is removed from the cell's outputs (it is for the verifier, not for the
feedback), checked, bounded, and written into a folder of the grader's
that no sandbox can write. Whatever the kernel sends or writes afterwards
cannot change what is verified, and nothing is ever read from the
kernel's own files.

The first export of an exercise is the one kept. More than one in the same
cell means a student's thread or a patched exporter spoke too, so none is
kept, and the reason is written instead (``REFUSED``).
"""

import json
import os
import re
from pathlib import Path

from autograder import export_schema
from autograder.kernel.channel import (
    EXPORT_MIME,
    MANIFEST,
    MODEL_SUFFIX,
    PARTIAL_SUFFIX,
)

REFUSED = "refused.txt"  # written by the grader, never by the kernel
_FILE_NAME = re.compile(
    rf"^(?:(?:case|probe)\d{{1,2}}|model)(?:{re.escape(MODEL_SUFFIX)}|"
    rf"{re.escape(PARTIAL_SUFFIX)})$|^{re.escape(MANIFEST)}$")
MAX_FILES = 24  # an exercise sends at most 8 models, their partial graphs and a manifest
MAX_EXERCISE_BYTES = 2 * export_schema.MAX_BYTES


def take_exports(cell, exercise, snapshot_dir):
    """Moves the exports `cell` sent for `exercise` into snapshot_dir/exercise/.

    Args:
        cell: the executed graded cell (a NotebookNode); its export messages
            are removed from its outputs.
        exercise: the exercise this cell tests, known from its source.
        snapshot_dir: the grader's folder for this submission.

    Returns:
        "" when an export was kept, else why not (also written to REFUSED).
    """
    exports = [output for output in cell.get("outputs", []) if _is_export(output)]
    cell.outputs = [output for output in cell.get("outputs", []) if not _is_export(output)]
    folder = Path(snapshot_dir) / exercise
    if folder.exists():  # an earlier run of this cell already decided
        return "an export of this exercise was already taken"
    folder.mkdir(parents=True)
    if not exports:
        return ""  # nothing sent: the verifier says what the manifest-less folder means
    problem = (f"the hidden test sent {len(exports)} exports instead of one"
               if len(exports) > 1 else _problem(exports[0]["data"][EXPORT_MIME], exercise))
    if problem:
        _write(folder / REFUSED, problem)
        return problem
    for name, text in exports[0]["data"][EXPORT_MIME]["files"].items():
        _write(folder / name, text)
    return ""


def refusal(folder):
    """Why the grader refused the folder's export, or ""."""
    path = Path(folder) / REFUSED
    return path.read_text() if path.is_file() and not path.is_symlink() else ""


def _is_export(output):
    data = output.get("data")
    return isinstance(data, dict) and EXPORT_MIME in data


def _problem(payload, exercise):
    """Why a payload cannot be kept, or "" if it can."""
    if not isinstance(payload, dict) or set(payload) != {"exercise", "files"}:
        return "the export is not in the exporter's format"
    if payload["exercise"] != exercise:
        return f"the export claims to be {str(payload['exercise'])[:40]!r}, not {exercise!r}"
    files = payload["files"]
    if not isinstance(files, dict) or not 0 < len(files) <= MAX_FILES:
        return f"the export must hold 1 to {MAX_FILES} files"
    for name, text in files.items():
        if not isinstance(name, str) or not _FILE_NAME.match(name):
            return f"the export holds a file with an unexpected name ({str(name)[:40]!r})"
        if not isinstance(text, str):
            return f"the export's {name} is not text"
    size = sum(len(text.encode("utf-8", errors="replace")) for text in files.values())
    if size > MAX_EXERCISE_BYTES:
        return f"the export is {size:,} bytes, over the {MAX_EXERCISE_BYTES:,} allowed"
    if MANIFEST in files:
        try:
            json.loads(files[MANIFEST])
        except ValueError:
            return "the export's manifest is not JSON"
    return ""


def _write(path, text):
    """Creates `path` anew; the folder is the grader's, so no link can be in the way."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(descriptor, "w", encoding="utf-8", errors="replace") as file:
        file.write(text)
