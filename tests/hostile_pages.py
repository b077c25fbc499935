"""A solved notebook that carries script payloads into every part of its feedback page.

Each payload, if it ever runs, appends its number to ``window.ran``, so a
browser can tell exactly which got through. They sit where a student can
put HTML: markdown cells (plain, and dressed up as nbgrader cells),
outputs of every MIME type the page renders, output metadata that lands in
attributes, and a forged grade_id (which the grader drops before nbgrader,
whose validation would otherwise fail the whole notebook).
"""

import nbformat

from autograder import course


def _mark(number):
    return f"window.ran=(window.ran||[]).concat([{number}])"


def _mark_attribute(number):
    return f'1 onerror="{_mark(number)}"'


MARKDOWN_PAYLOADS = [
    f"<script>{_mark(1)}</script>",
    f'<img src="x" onerror="{_mark(2)}">',
    f'<svg onload="{_mark(3)}"></svg>',
    f'<a id="go" href="javascript:{_mark(4)}">a link</a>',
    '<iframe srcdoc="<script>parent.ran=(parent.ran||[]).concat([5])</script>"></iframe>',
    f'<details open ontoggle="{_mark(6)}">x</details>',
    f'<body onload="{_mark(7)}">',
]
OUTPUT_PAYLOADS = [
    {"text/html": f"<script>{_mark(11)}</script><b>html</b>"},
    {"text/html": f'<img src=x onerror="{_mark(12)}">'},
    {"text/markdown": f'<img src=x onerror="{_mark(13)}">'},
    {"image/svg+xml": f'<svg xmlns="http://www.w3.org/2000/svg" onload="{_mark(14)}">'
                      f"<script>{_mark(15)}</script></svg>"},
    {"application/javascript": _mark(16)},
    {"text/html": f'<form action="javascript:{_mark(17)}"><input autofocus '
                  f'onfocus="{_mark(18)}"></form>'},
]
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAA"
       "AABJRU5ErkJggg==")
PAYLOAD_NUMBERS = set(range(1, 8)) | set(range(11, 22))


def hostile_notebook():
    """The source notebook, solved, with every payload added after its first cell."""
    notebook = nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)
    cells = [nbformat.v4.new_markdown_cell(payload) for payload in MARKDOWN_PAYLOADS]
    dressed = nbformat.v4.new_markdown_cell(f"<script>{_mark(19)}</script>")
    dressed.metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
                                    "grade_id": "dressed_up", "schema_version": 3}
    cells.append(dressed)
    # The grader runs the notebook again, so the outputs are made by running code.
    outputs = nbformat.v4.new_code_cell(
        "from IPython.display import publish_display_data\n"
        f"for data in {OUTPUT_PAYLOADS!r}:\n"
        "    publish_display_data(data)\n"
        f"publish_display_data({{'image/png': {PNG!r}}}, metadata={{'image/png': "
        f"{{'width': {_mark_attribute(21)!r}}}}})\n")
    cells.append(outputs)
    forged = nbformat.v4.new_code_cell("x = 1")
    forged.metadata["nbgrader"] = {"grade": True, "solution": False, "points": 0,
                                   "grade_id": f'"><img src=x onerror="{_mark(20)}">'}
    cells.append(forged)
    notebook.cells[1:1] = cells
    return notebook
