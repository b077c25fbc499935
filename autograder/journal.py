"""The journal of a grading run: one line per submission, written as it finishes.

``grade`` appends each GradeResult to OUT/results.jsonl the moment it is
known, and fsyncs it, so a run that is killed keeps every grade it had
finished. Run again with the same OUT, it grades only the submissions the
journal does not hold yet for the same hand-in (a hash of the file) and the
same settings (the course and the limits); ``--restart`` sets the old
journal aside and grades everything. grades.csv, results.json and the
report are always written whole, from the journal, through a temporary file
and a rename, so no reader ever sees half a file.

A line cut short by a kill is skipped, and the next line starts on its own.
When one student appears several times, the last line wins: a later line is
a regrade, or an instructor's decision (``accept``).
"""

import dataclasses
import hashlib
import json
import os
import time
from pathlib import Path

JOURNAL_FILE = "results.jsonl"
_PATH_FIELDS = ("feedback", "autograded")


def settings_key(template_root, limits):
    """What a journal line's grade depends on besides the hand-in itself."""
    fields = dataclasses.asdict(limits)
    fields.pop("threads", None)  # how fast, not what grade
    text = json.dumps([Path(template_root).name, fields], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def file_digest(path):
    """A hash of a handed-in file, or "" when there is no file."""
    if path is None:
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:32]


def record_of(result, out_dir):
    """The JSON-ready form of a GradeResult, its file paths relative to `out_dir`."""
    record = dataclasses.asdict(result)
    record["total"] = result.total
    for key in _PATH_FIELDS:
        if record[key]:
            record[key] = str(Path(record[key]).relative_to(out_dir))
    return record


def result_of(record, out_dir, result_type):
    """The GradeResult a record came from (unknown keys are ignored)."""
    names = {f.name for f in dataclasses.fields(result_type)}
    fields = {key: value for key, value in record.items() if key in names}
    for key in _PATH_FIELDS:
        if fields.get(key):
            fields[key] = Path(out_dir) / fields[key]
    return result_type(**fields)


class Journal:
    """OUT/results.jsonl: read at the start of a run, appended to as it goes."""

    def __init__(self, out_dir, restart=False):
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / JOURNAL_FILE
        if self.path.is_symlink():
            raise ValueError(f"{self.path}: is a symbolic link; the journal must be a "
                             "plain file in OUT")
        if restart and self.path.exists():
            stamp = time.strftime("%Y%m%d-%H%M%S")
            self.path.rename(self.out_dir / f"results-{stamp}.jsonl")
        self.records = {}  # student_id -> its last record
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a kill
                if well_formed(record):  # else not ours, or damaged: regraded
                    self.records[record["student_id"]] = record

    def finished(self, student_id, digest, settings):
        """The record of this hand-in graded with these settings, or None.

        A row the grader itself failed on is never finished: it is retried.
        """
        record = self.records.get(student_id)
        if record and record.get("digest") == digest and record.get(
                "settings") == settings and not record.get("grader_failed"):
            return record
        return None

    def add(self, record):
        """Appends one record and makes sure it is on disk before returning."""
        line = (json.dumps(record) + "\n").encode()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                             | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        try:
            if os.fstat(descriptor).st_size and not _ends_with_newline(self.path):
                line = b"\n" + line  # after a line cut short by a kill
            os.write(descriptor, line)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        self.records[record["student_id"]] = record


_FIELD_TYPES = {"student_id": str, "status": str, "reason": str, "scores": dict,
                "diagnoses": dict, "messages": dict, "flags": list, "held": dict,
                "digest": str, "settings": str}


def well_formed(record):
    """Whether a journal line is a record this grader wrote, field by field."""
    if not isinstance(record, dict) or not all(
            isinstance(record.get(key), kind) for key, kind in _FIELD_TYPES.items()):
        return False
    points = [*record["scores"].values(), *record["held"].values()]
    return (record["status"] in {"graded", "review", "failed"}
            and all(isinstance(p, int | float) and not isinstance(p, bool) for p in points)
            and all(isinstance(f, str) for f in record["flags"])
            and all(record.get(k) is None or isinstance(record[k], str)
                    for k in _PATH_FIELDS))


def _ends_with_newline(path):
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


def write_atomically(path, text):
    """Writes `text` to `path` so that a reader sees the old file or the new one."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temporary, path)
