"""An nbconvert preprocessor that keeps test code out of students' feedback.

nbgrader's ClearHiddenTests removes hidden tests from a cell's source, but
the traceback saved in the cell's output still quotes the failing line and
the grader's own frames. This preprocessor, run by `nbgrader
generate_feedback` (see course.COURSE_CONFIG), replaces the traceback of
every graded test cell with the error's name and message, which is where
the checks put what the student needs: what was expected, what was found,
and a hint.
"""

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
