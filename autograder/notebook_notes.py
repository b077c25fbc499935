"""What a student should know about how their notebook was run.

A fault that costs no points still deserves a word in the grade's reason:
a cell stopped at the timeout, a kernel restarted after a cell killed it, a
test cell the student deleted, changed or duplicated (nbgrader puts the
instructor's version back). These notes come from the notebooks alone.
"""

# Errors that mean a cell was stopped, or stopped the kernel, rather than a
# mistake in an exercise (those are reported with the exercise).
FAULTS = ("CellTimeoutError", "KernelRestarted", "KernelDied", "SystemExit", "MemoryError")


def cell_faults(autograded):
    """One note per ungraded code cell that ended in faults, e.g. a timeout.

    A cell may have several, in order: "cell 14: CellTimeoutError, then
    KernelRestarted (why)".
    """
    notes = []
    for index, cell in enumerate(autograded.cells):
        if cell.cell_type != "code" or _grade_id(cell):
            continue
        faults = [o for o in cell.get("outputs", [])
                  if o.get("output_type") == "error" and o.get("ename") in FAULTS]
        names = list(dict.fromkeys(o["ename"] for o in faults))
        if names:
            detail = _first_line(faults[-1].get("evalue", ""))
            note = f"cell {index + 1}: {', then '.join(names)}"
            notes.append(f"{note} ({detail})" if detail else note)
    return notes


def test_cell_changes(submitted, source):
    """Notes for test cells a submission deleted, changed or duplicated.

    Args:
        submitted: the student's notebook, as handed in.
        source: the instructor's source notebook.
    """
    notes = []
    for cell in source.cells:
        metadata = cell.metadata.get("nbgrader", {})
        if not metadata.get("grade") or metadata.get("solution"):
            continue
        grade_id = metadata["grade_id"]
        copies = [c for c in submitted.cells if _grade_id(c) == grade_id]
        if not copies:
            notes.append(f"test cell {grade_id} was deleted; the grader put it back")
        elif len(copies) > 1:
            notes.append(f"test cell {grade_id} appears {len(copies)} times; the grader "
                         "ran the instructor's version once")
        elif _visible_code(copies[0].source) != _visible_code(cell.source):
            notes.append(f"test cell {grade_id} was changed; the grader ran the "
                         "instructor's version")
    return notes


def _grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def _visible_code(source):
    """The part of a test cell students see: hidden tests are stripped in the release."""
    kept, hidden = [], False
    for line in source.splitlines():
        if "### BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "### END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden:
            kept.append(line.rstrip())
    return "\n".join(kept).strip()


def _first_line(text):
    return (str(text).strip().splitlines() or [""])[0][:200]
