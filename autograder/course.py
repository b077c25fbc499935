"""Throw-away nbgrader course directories, and real nbgrader runs inside them.

Grading never touches the repository's own folders: every run gets a course
directory of its own, with a copy of the source assignment, its own gradebook
and its own submitted/ and autograded/ folders. That keeps parallel graders
from sharing one SQLite file, and keeps generated files out of git.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "residual_networks"
NOTEBOOK = "Residual_Networks.ipynb"
HIDDEN_TESTS_MARKER = "### BEGIN HIDDEN TESTS"
SOURCE_ASSIGNMENT = ROOT / "solutions" / ASSIGNMENT
DATA_DIR = ROOT / "data"
# The files under DATA_DIR the notebook reads: the hand signs, and the saved
# plain-against-residual run that section 9 plots.
NOTEBOOK_DATA = ("train_signs.h5", "test_signs.h5", "experiments/degradation.json")

COURSE_CONFIG = """\
c = get_config()
c.CourseDirectory.root = {root!r}
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__"]
c.Execute.timeout = {cell_timeout}
# nbgrader's own autograde steps, with its Execute replaced by one that
# survives a cell that hangs or kills its kernel (resilient_execute.py).
c.Autograde.autograde_preprocessors = [
    "autograder.resilient_execute.ResilientExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# Feedback goes to students: it shows their code and the test results, never
# the hidden tests' code.
c.GenerateFeedback.preprocessors = [
    "autograder.feedback.SafeMetadata",
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    "autograder.feedback.HideTestTracebacks",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# TAs open these pages: nbconvert sanitises the student's HTML and markdown
# (nbgrader's template, extended in autograder/templates, sanitises markdown
# too), and grading adds a policy that lets no script run.
c.HTMLExporter.sanitize_html = True
c.HTMLExporter.template_name = "safe_feedback"  # nbgrader's "feedback", extended
c.HTMLExporter.template_file = "safe_index.html.j2"
# Found through the packages themselves, not a path written in: a kept
# template course may outlive the checkout that made it.
import autograder as _autograder, nbgrader.server_extensions.formgrader as _formgrader
import os as _os
c.HTMLExporter.extra_template_basedirs = [
    _os.path.join(_os.path.dirname(_autograder.__file__), "templates"),
    _os.path.join(_os.path.dirname(_formgrader.__file__), "templates")]
"""


_DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "KILL"] if shutil.which("setpriv") else []


class NbgraderError(RuntimeError):
    """An nbgrader command failed; the message carries the end of its log."""


def grading_environment():
    """Environment for nbgrader and the kernels it starts.

    The venv's bin folder goes first on PATH because nbgrader runs the
    `alembic` executable to create its gradebook. The kernel finds the data
    through SIGNS_DATA_DIR, since the course folder is far from data/.
    """
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env.setdefault("SIGNS_DATA_DIR", str(DATA_DIR))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return env


def run_nbgrader(course_root, *args, timeout=None, extra_environment=None):
    """Runs `nbgrader ARGS` in the course folder.

    nbgrader and the kernels it starts get a process group of their own, so
    a run that passes `timeout` seconds is killed whole: a kernel stuck in a
    loop that ignores interrupts must not outlive its grader.

    Raises:
        NbgraderError: nbgrader exited with an error.
        subprocess.TimeoutExpired: the run took longer than `timeout`.
    """
    # --pdeathsig: a grader killed outright (SIGKILL, a lost terminal) takes
    # its nbgrader with it, and the sandboxes die with their parent in turn.
    process = subprocess.Popen(
        [*_DIE_WITH_PARENT, sys.executable, "-m", "nbgrader", *args],
        cwd=course_root, env={**grading_environment(), **(extra_environment or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    finally:
        # Kernels left behind by a crashed nbgrader belong to the group too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    if result.returncode != 0:
        log = (result.stdout + result.stderr)[-3000:]
        raise NbgraderError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{log}")
    return result


def make_course(course_root, source_assignment=SOURCE_ASSIGNMENT, cell_timeout=120):
    """Creates a course folder with the source assignment and its gradebook.

    Args:
        course_root: an empty or missing folder.
        source_assignment: folder holding the nbgrader source notebook.
        cell_timeout: seconds one notebook cell may run while grading.

    Returns:
        The course root as a Path.
    """
    course_root = Path(course_root).resolve()
    course_root.mkdir(parents=True, exist_ok=True)
    (course_root / "nbgrader_config.py").write_text(
        COURSE_CONFIG.format(root=str(course_root), cell_timeout=cell_timeout)
    )
    shutil.copytree(
        source_assignment, course_root / "source" / ASSIGNMENT,
        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"),
    )
    run_nbgrader(course_root, "generate_assignment", ASSIGNMENT, "--force")
    return course_root


def clone_course(template_root, course_root):
    """Copies a course made by make_course, gradebook included, to a new root.

    Generating the assignment once and copying the result is much cheaper
    than running generate_assignment for every student, and each copy keeps
    its own SQLite gradebook, so parallel graders never share a file.
    """
    template_root, course_root = Path(template_root), Path(course_root).resolve()
    shutil.copytree(template_root, course_root)
    retarget_config(course_root, template_root, course_root)
    return course_root


def retarget_config(course_root, old_root, new_root):
    """Makes the configuration in `course_root`, written for `old_root`, name `new_root`."""
    config_path = Path(course_root) / "nbgrader_config.py"
    config_path.write_text(
        config_path.read_text().replace(repr(str(old_root)), repr(str(new_root)))
        .replace(f"sqlite:///{old_root}/", f"sqlite:///{new_root}/")
    )


def use_kernel(course_root, kernel_name, places, kernel_uid, snapshot_dir,
               cell_output_bytes, kernel_cpu_seconds=0):
    """Makes autograde start `kernel_name` in its sandbox, and take the exports.

    The kernel is the grader's choice, whatever the notebook's metadata
    says. IPC sockets at a fixed path let a kernel in its own network
    namespace reach nbgrader; the executor pins them before any code runs
    (``sandbox.pin_kernel_sockets``) and moves each exercise's export into
    `snapshot_dir` as its cell ends (``snapshot``).

    Args:
        places: the sandbox.KernelPlaces of this submission's kernel.
        kernel_uid: the uid the kernel runs as, which must own its sockets.
        kernel_cpu_seconds: the kernel's CPU-time limit, for its messages.
    """
    settings = {
        "Execute.kernel_name": kernel_name,
        "KernelManager.transport": "ipc",
        "KernelManager.connection_file": str(places.connection_file),
        "KernelManager.ip": str(places.socket_prefix),
        "ResilientExecute.kernel_uid": kernel_uid,
        "ResilientExecute.snapshot_dir": str(snapshot_dir),
        "ResilientExecute.source_notebook": str(
            Path(course_root) / "source" / ASSIGNMENT / NOTEBOOK),
        "ResilientExecute.max_cell_output_bytes": cell_output_bytes,
        "ResilientExecute.kernel_cpu_seconds": kernel_cpu_seconds,
    }
    with open(Path(course_root) / "nbgrader_config.py", "a") as config:
        config.writelines(f"c.{key} = {value!r}\n" for key, value in settings.items())


def set_scores(course_root, student_id, scores):
    """Overwrites a student's automatic points per graded cell in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course_root) / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(
            Path(NOTEBOOK).stem, ASSIGNMENT, student_id
        )
        for grade in notebook.grades:
            if grade.name in scores:
                grade.auto_score = scores[grade.name]
        gradebook.db.commit()


def submit(course_root, student_id, notebook_path):
    """Places a notebook where nbgrader looks for the student's submission."""
    target = Path(course_root) / "submitted" / student_id / ASSIGNMENT / NOTEBOOK
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(notebook_path, target)
    return target


def autograde(course_root, student_id, timeout=None):
    """Runs `nbgrader autograde` for one student and returns the scores.

    Returns:
        Dict mapping each graded cell's grade_id to the points earned.
    """
    run_nbgrader(
        course_root, "autograde", ASSIGNMENT, f"--student={student_id}", "--force",
        timeout=timeout,
    )
    return scores(course_root, student_id)


def scores(course_root, student_id):
    """Reads a student's points per graded cell from the course's gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course_root) / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_submission_notebook(
            Path(NOTEBOOK).stem, ASSIGNMENT, student_id
        )
        return {grade.name: grade.score for grade in notebook.grades}


def autograded_notebook(course_root, student_id):
    """Path of the executed notebook nbgrader wrote for a student."""
    return Path(course_root) / "autograded" / student_id / ASSIGNMENT / NOTEBOOK


def generate_feedback(course_root, student_id, timeout=None):
    """Runs `nbgrader generate_feedback` for one student; returns the HTML's path."""
    run_nbgrader(
        course_root, "generate_feedback", ASSIGNMENT, f"--student={student_id}", "--force",
        timeout=timeout,
    )
    return Path(course_root) / "feedback" / student_id / ASSIGNMENT / (
        Path(NOTEBOOK).stem + ".html")


def max_scores(course_root):
    """Maps each graded cell's grade_id to its points, from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(course_root) / 'gradebook.db'}") as gradebook:
        notebook = gradebook.find_notebook(Path(NOTEBOOK).stem, ASSIGNMENT)
        return {cell.name: cell.max_score for cell in notebook.grade_cells}
