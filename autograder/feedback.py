"""An nbconvert preprocessor that keeps test code out of students' feedback.

nbgrader's ClearHiddenTests removes hidden tests from a cell's source, but
the traceback saved in the cell's output still quotes the failing line and
the grader's own frames. This preprocessor, run by `nbgrader
generate_feedback` (see course.COURSE_CONFIG), replaces the traceback of
every graded test cell with the error's name and message, which is where
the checks put what the student needs: what was expected, what was found,
and a hint.
"""

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool


class HideTestTracebacks(Preprocessor):
    """Shortens the error outputs of graded test cells to 'Name: message'."""

    # nbconvert skips preprocessors that are not enabled; nbgrader's own
    # preprocessors enable themselves the same way.
    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        nbgrader = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and nbgrader.get("grade") and not nbgrader.get("solution"):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: "
                                           f"{output.get('evalue', '')}"]
        return cell, resources


# nbgrader's metadata that its feedback template writes into the page, and
# the type each must have; a grade_id is written into attributes unquoted.
_NBGRADER_TYPES = {"grade": bool, "solution": bool, "locked": bool, "task": bool,
                   "points": (int, float), "score": (int, float), "grade_id": str,
                   "comment": str, "schema_version": int, "cell_type": str}
_SAFE_GRADE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_OUTPUT_SIZES = ("width", "height")  # written into <img width=...>, unquoted


class SafeMetadata(Preprocessor):
    """Drops the metadata a student could have written that the feedback page
    would copy into HTML: odd nbgrader fields, and output metadata other than
    numeric image sizes. Run first, before nbgrader's own preprocessors."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        nb.metadata = {key: value for key, value in nb.metadata.items()
                       if key in {"kernelspec", "language_info"}}
        return super().preprocess(nb, resources)

    def preprocess_cell(self, cell, resources, index):
        nbgrader = cell.metadata.get("nbgrader")
        if isinstance(nbgrader, dict):
            kept = {key: value for key, value in nbgrader.items()
                    if key in _NBGRADER_TYPES and isinstance(value, _NBGRADER_TYPES[key])}
            if "grade_id" in kept and not _SAFE_GRADE_ID.match(kept["grade_id"]):
                kept = {}  # not a cell nbgrader made: show it as an ordinary cell
            cell.metadata = {"nbgrader": kept} if kept else {}
        else:
            cell.metadata = {}
        for output in cell.get("outputs", []):
            if "metadata" in output:
                output["metadata"] = {
                    mime: {key: value for key, value in sizes.items()
                           if key in _OUTPUT_SIZES and isinstance(value, int | float)}
                    for mime, sizes in output["metadata"].items() if isinstance(sizes, dict)}
        return cell, resources


# A feedback page needs no script: it is text, code, tables and images. The
# policy goes first in <head>, so that nothing the student wrote runs, even if a
# sanitiser missed it. (MathJax is a script too: formulas show as LaTeX.)
SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                   "font-src data:; form-action 'none'; base-uri 'none'")


def with_security_policy(page):
    """`page`, an HTML document, with SECURITY_POLICY as the first thing in <head>."""
    tag = f'<meta http-equiv="Content-Security-Policy" content="{SECURITY_POLICY}">'
    head = re.search(r"<head(\s[^>]*)?>", page, re.IGNORECASE)
    if head is None:
        return f"<!DOCTYPE html><html><head>{tag}</head><body>{page}</body></html>"
    return page[:head.end()] + tag + page[head.end():]
