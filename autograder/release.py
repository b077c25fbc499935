"""The student release: assignment/ regenerated from solutions/ by nbgrader,
and the bundle students download, dist/<assignment>-student.zip.

nbgrader writes the release inside a throw-away course folder, and only the
result is copied into assignment/, so the repository never holds a gradebook
or any other by-product of the run.
"""

import shutil
import tempfile
import zipfile
from pathlib import Path

from autograder import course, leaks

RELEASE_DIR = course.ROOT / "assignment"
DIST_DIR = course.ROOT / "dist"
DATA_FILES = course.NOTEBOOK_DATA
_SKIPPED = {"__pycache__", ".ipynb_checkpoints"}


def generate_release(target_dir=RELEASE_DIR):
    """Runs `nbgrader generate_assignment` and puts the release in target_dir.

    Returns:
        The folder holding the released assignment, target_dir/<assignment>.
    """
    target = Path(target_dir) / course.ASSIGNMENT
    with tempfile.TemporaryDirectory(prefix="release-") as scratch:
        course_root = course.make_course(Path(scratch) / "course")
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(course_root / "release" / course.ASSIGNMENT, target)
    return target


def write_student_bundle(release_dir=RELEASE_DIR / course.ASSIGNMENT,
                         data_dir=course.DATA_DIR, dist_dir=DIST_DIR):
    """Zips the release and the data set into the bundle students download.

    The notebook finds the data in data/ beside it, so the bundle unpacks
    into one folder that works as it is.

    Returns:
        Path of the zip written.

    Raises:
        leaks.LeakError: the release holds solution code, hidden tests or the
            grader; no bundle is written then.
        FileNotFoundError: a data file is missing (run data/make_signs.py).
    """
    release_dir, data_dir = Path(release_dir), Path(data_dir)
    files = {path.relative_to(release_dir.parent): path for path in _files(release_dir)}
    for name in DATA_FILES:
        if not (data_dir / name).is_file():
            raise FileNotFoundError(f"{data_dir / name}: missing; run data/make_signs.py")
        files[Path(course.ASSIGNMENT) / "data" / name] = data_dir / name
    leaks.check_release(files)  # before anything is written
    bundle = Path(dist_dir) / f"{course.ASSIGNMENT}-student.zip"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    partial = bundle.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, path in sorted(files.items()):
            archive.write(path, str(name))
    partial.replace(bundle)  # a failed run never leaves half a bundle behind
    return bundle


def _files(folder):
    return sorted(p for p in folder.rglob("*")
                  if p.is_file() and not _SKIPPED.intersection(p.parts))
