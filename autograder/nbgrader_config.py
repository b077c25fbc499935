"""nbgrader configuration for the Residual Networks course.

The course root is the repository: the hand-edited source notebook lives in
solutions/, and `nbgrader generate_assignment` writes the student release to
assignment/. Everything nbgrader writes while grading (the gradebook,
submissions, autograded copies and feedback) stays out of the repository's
tracked folders; the grading command line points these elsewhere per run.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

c = get_config()  # noqa: F821 - provided by traitlets when nbgrader loads this file

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignment"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'out' / 'gradebook.db'}"
# Only the notebook, the helper package and its sample image belong in a
# release; caches and checkpoints never do.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".pytest_cache",
]

# A student release must not carry the figures the solution run made.
c.ClearOutput.enabled = True
