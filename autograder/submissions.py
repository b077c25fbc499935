"""Find the submissions to grade in a folder or a zip, whatever its layout.

Two layouts are understood, directly or inside a zip file:

* a flat folder with one file per student, named after the student
  (``alice.ipynb``, ``bob.ipynb``), or one folder per student holding one
  notebook; every file counts, so a student who handed in ``bob.txt``, an
  empty file or a hidden ``.carol.ipynb`` still gets a row and a reason;
* nbgrader's ``submitted/<student>/<assignment>/`` layout, where the notebook
  may have any name (a renamed notebook is still that student's work).

Names and files are the students' own, so nothing here trusts them:

* every accepted file is copied into the grader's scratch folder, opened
  without following links and read up to a cap; the grader only ever reads
  that copy. A symbolic link, a hard link, a FIFO or a device is refused
  with a reason, never followed or opened for reading;
* a zip is unpacked member by member. A member with ``..``, an absolute
  path, a link type or a size over the cap is refused, and costs only its
  own row; a zip over the total size or member cap is refused at once;
* ids map one to one: a name that is already a safe id keeps it, and names
  that would share an id all get a suffix made from their own name, so no
  id depends on which file sorted first. Each Submission keeps the original
  name, made printable, for grades.csv.

Finding submissions never parses a notebook: whether a file can be graded
is for the grader to decide and report, one submission at a time.
"""

import errno
import hashlib
import os
import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path

from autograder import course
from autograder.safe_text import printable

MiB = 2**20
# The caps, documented in the README's limits table; batch takes them from
# grading.Limits, which the command line sets.
NOTEBOOK_BYTES = 20 * MiB  # about 20x the solution with every output
ARCHIVE_BYTES = 4096 * MiB  # a zip's members, uncompressed, in all
ARCHIVE_MEMBERS = 20_000  # a zip's members, folders included

# nbgrader uses the student id as a folder name and a database key.
_UNSAFE_ID_CHARACTERS = re.compile(r"[^A-Za-z0-9_.@+-]")
_ID_CHARACTERS = 64
_MAX_DEPTH = 32  # folders inside a zip or a submissions folder, at most
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "__MACOSX", ".ipynb_checkpoints"}


class SubmissionsError(ValueError):
    """The submissions path cannot be read; the message says why."""


@dataclass(frozen=True)
class Caps:
    """How large a hand-in may be before it is refused unread."""

    notebook_bytes: int = NOTEBOOK_BYTES
    archive_bytes: int = ARCHIVE_BYTES
    archive_members: int = ARCHIVE_MEMBERS


@dataclass(frozen=True)
class Submission:
    """One student's hand-in: an id and the file to grade (None if none)."""

    student_id: str
    path: Path | None
    problem: str = ""  # why there is nothing to grade, when path is None
    note: str = ""  # something the student should know, e.g. a renamed notebook
    file: str = ""  # what was handed in, as named, made printable


@dataclass(frozen=True)
class _Found:
    """A hand-in before it has an id: `name` is what the id is made from."""

    name: str
    file: str
    path: Path | None
    problem: str = ""
    note: str = ""


def find_submissions(path, extract_to, caps=Caps()):
    """Lists the submissions under `path`, one per student, sorted by id.

    Args:
        path: a folder or a .zip file in either layout described above.
        extract_to: an empty folder of the grader's: the copies go there.
        caps: Caps.

    Returns:
        List of Submission; a refused file is a Submission with no path.

    Raises:
        SubmissionsError: the path is missing, is not a folder or a zip, is a
            zip over a cap, or holds no submission at all.
    """
    path, extract_to = Path(path), Path(extract_to)
    if not path.exists():
        raise SubmissionsError(f"{path}: no such file or folder")
    refused, folder = [], path
    if path.is_file():
        folder, refused = _unzip(path, extract_to / "unzipped", caps)
    root = _layout_root(folder)
    if _is_real_folder(root / "submitted"):
        found = _from_nbgrader_layout(root / "submitted")
    else:
        found = _from_flat_folder(root)
    found += refused
    if not found:
        raise SubmissionsError(f"{path}: holds no submissions (no files to grade)")
    return sorted(_with_ids(found, extract_to / "handed-in", caps),
                  key=lambda s: s.student_id)


def safe_student_id(name):
    """A student id nbgrader accepts as a folder name, derived from `name`."""
    cleaned = _UNSAFE_ID_CHARACTERS.sub("_", name)[:_ID_CHARACTERS]
    # No leading dash (an option to a command), dot (hidden) or formula character.
    return cleaned.lstrip("._-+@").rstrip("._") or "student"


def copy_in(source, target, max_bytes=NOTEBOOK_BYTES):
    """Copies a student's file to `target`, or says why it will not: "" on success.

    The file is opened without following a link and without blocking on a
    FIFO, checked to be one regular file with one name, and read at most
    `max_bytes`; `target` must not exist yet.
    """
    try:
        descriptor = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
                             | os.O_CLOEXEC)
    except OSError as error:
        if error.errno == errno.ELOOP:
            return "it is a symbolic link; links are refused, never followed"
        return f"it cannot be opened ({error.strerror})"
    with os.fdopen(descriptor, "rb") as handed_in:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            return f"it is {_kind(status.st_mode)}, not a file; only files are graded"
        if status.st_nlink > 1:
            return ("it is a hard link to another file; links are refused, "
                    "never followed")
        content = handed_in.read(max_bytes + 1)
    if len(content) > max_bytes:
        return _over_size_cap(status.st_size, max_bytes)
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with open(target, "xb") as copy:
        copy.write(content)
    return ""


def _over_size_cap(size, max_bytes):
    return (f"it is {max(size, max_bytes + 1) / MiB:.1f} MiB, over the "
            f"{max_bytes / MiB:g} MiB cap for one notebook (--notebook-size-limit)")


def _kind(mode):
    kinds = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
             (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"),
             (stat.S_ISSOCK, "a socket"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _is_real_folder(path):
    """A folder itself, not a link to one."""
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _unzip(zip_path, target, caps):
    """Unpacks the acceptable members of a zip; (folder, a _Found per refused member)."""
    if not zipfile.is_zipfile(zip_path):
        raise SubmissionsError(f"{zip_path}: not a folder and not a zip file")
    target.mkdir(parents=True, exist_ok=True)
    refused = []
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, UnicodeDecodeError, ValueError, OSError, EOFError,
            NotImplementedError) as error:
        raise SubmissionsError(f"{zip_path}: not a readable zip file "
                               f"({type(error).__name__}: {printable(str(error))[:200]})"
                               ) from None
    with archive:
        members = archive.infolist()
        if len(members) > caps.archive_members:
            raise SubmissionsError(
                f"{zip_path}: {len(members)} members, over the cap of "
                f"{caps.archive_members} (--archive-member-limit); nothing was graded")
        total = sum(member.file_size for member in members)
        if total > caps.archive_bytes:
            raise SubmissionsError(
                f"{zip_path}: {total / MiB:.0f} MiB uncompressed, over the cap of "
                f"{caps.archive_bytes / MiB:g} MiB (--archive-size-limit); "
                "nothing was graded")
        for member in members:
            problem = _member_problem(member, caps) or _extract(archive, member, target,
                                                                caps)
            if problem:
                name = printable(member.filename)
                refused.append(_Found(_owner(member.filename), f"{zip_path.name}:{name}",
                                      None, f"zip member {name!r} was refused: {problem}"))
    return target, refused


def _member_problem(member, caps):
    name = member.filename
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "it has an absolute path"
    if ".." in parts:
        return "its path leads outside the archive (..)"
    if "\0" in name or not name.strip("/"):
        return "it has no usable name"
    if len(parts) > _MAX_DEPTH:
        return f"its path is nested more than {_MAX_DEPTH} folders deep"
    mode = member.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "it is a symbolic link; links are refused, never followed"
    if stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        return f"it is {_kind(mode)}, not a file"
    if member.flag_bits & 0x1:
        return "it is encrypted"
    if not member.is_dir() and member.file_size > caps.notebook_bytes:
        return _over_size_cap(member.file_size, caps.notebook_bytes)
    return ""


def _extract(archive, member, target, caps):
    """Writes one member under `target`; "" or why it could not."""
    destination = target.joinpath(*[p for p in member.filename.split("/") if p])
    try:
        if member.is_dir():
            destination.mkdir(parents=True, exist_ok=True)
            return ""
        destination.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(member) as packed, open(destination, "xb") as unpacked:
            content = packed.read(caps.notebook_bytes + 1)  # a size field can lie
            if len(content) > caps.notebook_bytes:
                unpacked.close()
                destination.unlink()
                return _over_size_cap(len(content), caps.notebook_bytes)
            unpacked.write(content)
    except FileExistsError:
        return "the zip holds another member of the same name"
    except (OSError, zipfile.BadZipFile, NotImplementedError, EOFError, RecursionError,
            ValueError) as error:
        return f"it could not be unpacked ({printable(str(error))})"
    return ""


def _owner(member_name):
    """Whose row a refused member is: the student folder in nbgrader's layout,
    else the file's own name."""
    parts = [p for p in member_name.replace("\\", "/").split("/") if p]
    if "submitted" in parts[:-1]:
        position = parts.index("submitted")
        if position + 1 < len(parts):
            return parts[position + 1]
    return Path(parts[-1]).stem if parts else "student"


def _layout_root(folder):
    """Steps into single wrapping folders, as zips made from a folder have."""
    for _ in range(_MAX_DEPTH):
        entries = [e for e in folder.iterdir() if e.name not in _IGNORED_NAMES]
        if not (len(entries) == 1 and _is_real_folder(entries[0])
                and entries[0].name != "submitted"):
            break
        folder = entries[0]
    return folder


def _from_flat_folder(folder):
    """One file per student; a folder is one student's too (its one notebook)."""
    found = []
    for entry in sorted(folder.iterdir()):
        if _ignored(entry.name):
            continue
        if entry.name.startswith("."):
            found.append(_Found(entry.name.lstrip("."), printable(entry.name), None,
                                f"{printable(entry.name)} is a hidden file; rename it "
                                "without the leading dot to have it graded"))
        elif _is_real_folder(entry):
            found.append(_from_student_folder(entry, printable(entry.name) + "/"))
        else:
            found.append(_Found(entry.stem, printable(entry.name), entry))
    return found


def _from_student_folder(folder, where):
    """The one notebook somewhere in a student's folder, or why there is not one."""
    notebooks = []
    for parent, folders, files in os.walk(folder):  # os.walk follows no links
        folders[:] = [f for f in folders if not _ignored(f)]
        if len(Path(parent).relative_to(folder).parts) >= _MAX_DEPTH:
            folders[:] = []
        notebooks += [Path(parent) / name for name in files if name.endswith(".ipynb")]
    if len(notebooks) == 1:
        relative = printable(str(notebooks[0].relative_to(folder)))
        return _Found(folder.name, where + relative, notebooks[0])
    problem = (f"no notebook in {where}" if not notebooks else
               f"{len(notebooks)} notebooks in {where}; hand in one")
    return _Found(folder.name, where, None, problem)


def _ignored(name):
    return name in _IGNORED_NAMES or name.startswith("._")  # macOS's AppleDouble files


def _from_nbgrader_layout(submitted):
    found = [_Found(Path(entry.name).stem, printable(entry.name), None,
                    f"{printable(entry.name)} is outside submitted/, where nbgrader's "
                    "layout keeps every hand-in")
             for entry in sorted(submitted.parent.iterdir())  # a course folder holds more
             if entry.name.endswith(".ipynb") and not _ignored(entry.name)]
    for student_folder in sorted(submitted.iterdir()):
        name = student_folder.name
        if _ignored(name):
            continue
        where = f"submitted/{printable(name)}/{course.ASSIGNMENT}/"
        if student_folder.is_symlink():
            found.append(_Found(name, f"submitted/{printable(name)}", None,
                                f"submitted/{printable(name)} is a symbolic link; links "
                                "are refused, never followed"))
            continue
        if not _is_real_folder(student_folder):
            found.append(_Found(Path(name).stem, f"submitted/{printable(name)}", None,
                                f"submitted/{printable(name)} is not in a student's "
                                f"folder (submitted/<student>/{course.ASSIGNMENT}/)"))
            continue
        assignment = student_folder / course.ASSIGNMENT
        notebooks = (sorted(p for p in assignment.iterdir() if p.suffix == ".ipynb")
                     if _is_real_folder(assignment) else [])
        if assignment.is_symlink():
            found.append(_Found(name, where, None, f"{where} is a symbolic link; links are "
                                "refused, never followed"))
        elif len(notebooks) == 1:
            renamed = notebooks[0].name != course.NOTEBOOK
            note = (f"the notebook was renamed to {printable(notebooks[0].name)}; it was "
                    f"graded as {course.NOTEBOOK}") if renamed else ""
            found.append(_Found(name, where + printable(notebooks[0].name), notebooks[0],
                                note=note))
        elif not notebooks:
            found.append(_Found(name, where, None, f"no notebook in {where}"))
        else:
            preferred = assignment / course.NOTEBOOK
            chosen = preferred if preferred in notebooks else None
            problem = "" if chosen else (
                f"{len(notebooks)} notebooks in {where} and none named {course.NOTEBOOK}")
            found.append(_Found(name, where + (course.NOTEBOOK if chosen else ""), chosen,
                                problem))
    return found


def _with_ids(found, copies, caps):
    """Gives each hand-in its id and copies its file in, refusing what cannot be."""
    ids = _distinct_ids([(entry.name, entry.file) for entry in found])
    submissions = []
    for entry, (student_id, clash) in zip(found, ids):
        path, problem, note = entry.path, entry.problem, entry.note
        if path is not None:
            copy = copies / student_id
            refusal = copy_in(path, copy, caps.notebook_bytes)
            path, problem = (None, f"{entry.file} was refused: {refusal}") if refusal else (
                copy, problem)
        notes = [n for n in (note, clash) if n]
        submissions.append(Submission(student_id, path, problem, "; ".join(notes),
                                      entry.file))
    return submissions


def _distinct_ids(names):
    """(id, note) per (name, file): one id each, none depending on the others' order.

    A name whose safe id no other name shares keeps it. Names that share one
    each get the id plus the start of a hash of their own file's name, and a note.
    """
    candidates = [safe_student_id(name) for name, _ in names]
    taken = set()
    for candidate in candidates:
        if candidates.count(candidate) == 1:
            taken.add(candidate)
    ids = []
    for (_, file), candidate in zip(names, candidates):
        if candidates.count(candidate) == 1:
            ids.append((candidate, ""))
            continue
        digest = hashlib.sha256(file.encode("utf-8", "surrogateescape")).hexdigest()
        length, copy = 8, 1
        student_id = f"{candidate}-{digest[:length]}"
        while student_id in taken:  # a longer hash; the same name twice: numbered
            if length < len(digest):
                length += 4
                student_id = f"{candidate}-{digest[:length]}"
            else:
                copy += 1
                student_id = f"{candidate}-{digest[:12]}-{copy}"
        taken.add(student_id)
        ids.append((student_id, f"{candidates.count(candidate)} hand-ins share the id "
                    f"{candidate!r}; this one, {file!r}, is {student_id}"))
    return ids
