"""Hostile file names, links and archives: each is graded or refused, none is followed."""

import os
import stat
import zipfile

import pytest

from autograder import course
from autograder.safe_text import csv_cell, printable
from autograder.submissions import Caps, SubmissionsError, find_submissions

MiB = 2**20
# Names a student may choose: bytes that are not UTF-8, an escape sequence,
# a newline, quotes, a leading dash or formula, the longest name Linux allows.
HOSTILE_NAMES = [
    b"caf\xe9-latin1.ipynb",
    b"\x1b[2J\x1b[31mred.ipynb",
    b"new\nline.ipynb",
    b"o'brien \"quoted\".ipynb",
    b"--force.ipynb",
    b"=HYPERLINK(1).ipynb",
    b"\xe2\x80\xaeevil-rtl.ipynb",  # a right-to-left override
    b"x" * 249 + b".ipynb",
]
SAFE_ID = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@+-")


def test_every_hostile_name_gets_one_safe_distinct_id_and_a_printable_file(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    for name in HOSTILE_NAMES:
        with open(os.path.join(os.fsencode(folder), name), "wb") as f:
            f.write(b"{}")
    found = find_submissions(folder, tmp_path / "scratch")
    assert len(found) == len(HOSTILE_NAMES)
    assert len({s.student_id for s in found}) == len(found)
    for submission in found:
        assert set(submission.student_id) <= SAFE_ID
        assert not submission.student_id.startswith(("-", "=", ".", "+", "@"))
        assert len(submission.student_id) <= 80
        assert submission.file == printable(submission.file)  # nothing left to escape
        assert submission.file.isprintable()
        assert submission.path.read_bytes() == b"{}"
    files = {s.file for s in found}
    assert "caf\\xe9-latin1.ipynb" in files and "new\\x0aline.ipynb" in files


def test_links_fifos_and_devices_are_refused_and_never_followed(tmp_path):
    canary = tmp_path / "outside" / "solution.ipynb"
    canary.parent.mkdir()
    canary.write_text("the instructor's solution")
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "honest.ipynb").write_text("{}")
    (folder / "linked.ipynb").symlink_to(canary)
    (folder / "linked_folder").symlink_to(canary.parent)
    os.link(canary, folder / "hard.ipynb")
    os.mkfifo(folder / "fifo.ipynb")
    if os.geteuid() == 0:
        os.mknod(folder / "device.ipynb", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    found = {s.student_id: s for s in find_submissions(folder, tmp_path / "scratch")}
    assert found["honest"].path is not None
    assert "symbolic link" in found["linked"].problem and found["linked"].path is None
    assert "symbolic link" in found["linked_folder"].problem
    assert "hard link" in found["hard"].problem
    assert "FIFO" in found["fifo"].problem
    if os.geteuid() == 0:
        assert "device" in found["device"].problem
    copies = list((tmp_path / "scratch").rglob("*"))
    assert all("instructor" not in p.read_text() for p in copies if p.is_file())
    assert canary.read_text() == "the instructor's solution"


def test_a_linked_student_folder_in_nbgrader_layout_is_refused(tmp_path):
    canary = tmp_path / "solutions" / course.ASSIGNMENT
    canary.mkdir(parents=True)
    (canary / course.NOTEBOOK).write_text("the instructor's solution")
    submitted = tmp_path / "course" / "submitted"
    (submitted / "ann" / course.ASSIGNMENT).mkdir(parents=True)
    (submitted / "ann" / course.ASSIGNMENT / course.NOTEBOOK).write_text("{}")
    (submitted / "eve").symlink_to(tmp_path / "solutions")
    (submitted / "mal").mkdir()
    (submitted / "mal" / course.ASSIGNMENT).symlink_to(canary)
    found = {s.student_id: s for s in find_submissions(tmp_path / "course", tmp_path / "x")}
    assert found["ann"].path.read_text() == "{}"
    assert found["eve"].path is None and "symbolic link" in found["eve"].problem
    assert found["mal"].path is None and "symbolic link" in found["mal"].problem


def _zip(path, members):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members:
            if isinstance(name, zipfile.ZipInfo):
                archive.writestr(name, content)
            else:
                archive.writestr(name, content)
    return path


def _link_member(name, target):
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target


def test_bad_zip_members_cost_only_themselves(tmp_path):
    archive = _zip(tmp_path / "class.zip", [
        ("ann.ipynb", "{}"),
        ("/etc/absolute.ipynb", "{}"),
        ("sub/../../up.ipynb", "{}"),
        _link_member("linked.ipynb", "/etc/passwd"),
        ("ann.ipynb", "a second member of the same name"),
    ])
    found = find_submissions(archive, tmp_path / "scratch")
    by_problem = {s.problem.split(": ", 1)[-1]: s for s in found if s.problem}
    assert any("absolute path" in p for p in by_problem)
    assert any("outside the archive" in p for p in by_problem)
    assert any("symbolic link" in p for p in by_problem)
    assert any("same name" in p for p in by_problem)
    graded = [s for s in found if s.path is not None]
    assert [s.path.read_text() for s in graded] == ["{}"]
    assert not (tmp_path / "up.ipynb").exists() and not list(tmp_path.rglob("passwd"))


def test_a_zip_bomb_member_is_refused_at_the_cap_and_never_written_whole(tmp_path):
    archive = _zip(tmp_path / "bomb.zip", [("bomb.ipynb", b"\0" * (64 * MiB)),
                                           ("ann.ipynb", "{}")])
    assert archive.stat().st_size < MiB
    found = {s.student_id: s for s in find_submissions(archive, tmp_path / "scratch")}
    assert "20 MiB cap" in found["bomb"].problem and "--notebook-size-limit" in (
        found["bomb"].problem)
    assert found["ann"].path is not None
    assert sum(p.stat().st_size for p in (tmp_path / "scratch").rglob("*")
               if p.is_file()) < MiB


@pytest.mark.parametrize("caps, message", [
    (Caps(archive_members=3), "--archive-member-limit"),
    (Caps(archive_bytes=1000), "--archive-size-limit"),
])
def test_a_zip_over_a_cap_is_refused_at_once_naming_the_cap(tmp_path, caps, message):
    archive = _zip(tmp_path / "class.zip", [(f"s{n}.ipynb", "x" * 400) for n in range(4)])
    with pytest.raises(SubmissionsError, match=message):
        find_submissions(archive, tmp_path / "scratch", caps)
    assert not list((tmp_path / "scratch").rglob("*.ipynb"))


def test_an_oversized_file_is_refused_unread_naming_the_cap(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "big.ipynb").write_bytes(b" " * 2000)
    (folder / "small.ipynb").write_text("{}")
    found = {s.student_id: s
             for s in find_submissions(folder, tmp_path / "x", Caps(notebook_bytes=1000))}
    assert found["big"].path is None and "--notebook-size-limit" in found["big"].problem
    assert found["small"].path is not None


@pytest.mark.parametrize("value, expected", [
    ("=1+1", "'=1+1"), ("+1", "'+1"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\\x09x"), ("\rx", "'\\x0dx"), ("alice", "alice"), ("a=b", "a=b"),
    ("\x1b[31mred", "\\x1b[31mred"), (" =1", "' =1"), ("\uff1dSUM(1)", "'\uff1dSUM(1)"),
])
def test_csv_cells_are_neutralised_as_owasp_recommends(value, expected):
    assert csv_cell(value) == expected


def test_printable_never_raises_and_escapes_every_kind_of_surrogate():
    assert printable("\udc80\ud800") == "\\x80\\ud800"
    assert printable(b"caf\xe9") == printable("caf\udce9") == "caf\\xe9"


def test_a_deeply_nested_zip_member_is_refused_not_a_crash(tmp_path):
    archive = _zip(tmp_path / "deep.zip", [("a/" * 1100 + "x.ipynb", "{}"),
                                           ("ann.ipynb", "{}")])
    found = {s.student_id: s for s in find_submissions(archive, tmp_path / "scratch")}
    assert "nested" in found["x"].problem and found["ann"].path is not None


def test_no_hand_in_is_dropped_without_a_row(tmp_path):
    """Do a folder per student, a hidden file, a file loose in submitted/ and a
    notebook beside it each get a row, graded or with a reason?"""
    flat = tmp_path / "flat"
    (flat / "alice" / "work").mkdir(parents=True)
    (flat / "alice" / "work" / course.NOTEBOOK).write_text("{}")
    (flat / "bob").mkdir()
    (flat / "carol.ipynb").write_text("{}")
    (flat / ".dan.ipynb").write_text("{}")
    found = {s.student_id: s for s in find_submissions(flat, tmp_path / "x")}
    assert found["alice"].path is not None and found["alice"].file.startswith("alice/")
    assert "no notebook" in found["bob"].problem
    assert found["carol"].path is not None and "hidden" in found["dan.ipynb"].problem
    course_dir = tmp_path / "course"
    (course_dir / "submitted" / "eve" / course.ASSIGNMENT).mkdir(parents=True)
    (course_dir / "submitted" / "eve" / course.ASSIGNMENT / course.NOTEBOOK).write_text("{}")
    (course_dir / "submitted" / "loose.ipynb").write_text("{}")
    (course_dir / "beside.ipynb").write_text("{}")
    (course_dir / "gradebook.db").write_text("")
    found = {s.student_id: s for s in find_submissions(course_dir, tmp_path / "y")}
    assert set(found) == {"eve", "loose", "beside"}
    assert "not in a student's folder" in found["loose"].problem
    assert "outside submitted/" in found["beside"].problem


def test_many_members_of_one_name_get_distinct_ids_without_hanging(tmp_path):
    archive = _zip(tmp_path / "same.zip", [("alice.ipynb", str(n)) for n in range(20)])
    found = find_submissions(archive, tmp_path / "scratch")
    assert len(found) == 20 and len({s.student_id for s in found}) == 20


def test_an_unreadable_zip_is_refused_clearly(tmp_path):
    archive = tmp_path / "broken.zip"
    archive.write_bytes(b"junk" * 10 + b"PK\x05\x06" + b"\0" * 16 + b"\xff\xff\0\0")
    with pytest.raises(SubmissionsError, match="broken.zip"):
        find_submissions(archive, tmp_path / "scratch")
