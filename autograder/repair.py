"""Undo what students do to test cells, before nbgrader grades the notebook.

nbgrader 0.9.6 can re-add missing grade cells (OverwriteCells.add_missing_cells),
but it crashes when the cell before the missing one is a locked cell, as the
public checks here are (KeyError in add_missing_grade_cells), and when a
duplicated cell lost its metadata (KeyError in add_missing_task_cells). So the
grader restores them itself: each missing test cell goes back after the
nearest cell that precedes it in the source notebook and is still there.
A copied test cell is instructor code: its extra copies are dropped. Any
other cell copied with its nbgrader metadata keeps that metadata on its last
copy only, as nbgrader's DeduplicateIds intends; nbgrader's own version
leaves an empty metadata dict behind, which its CheckCellMetadata then
rejects as an old format, failing the whole notebook. nbgrader then overwrites every test
cell's code with the instructor's, as usual.
"""

import copy

import nbformat


def restore_test_cells(submitted, source):
    """Inserts the source's graded test cells missing from `submitted`, in place.

    Args:
        submitted: the student's notebook (nbformat v4), modified in place.
        source: the instructor's source notebook.

    Returns:
        The grade_ids put back, in notebook order.
    """
    present = {_grade_id(cell) for cell in submitted.cells} - {None}
    restored = []
    for position, cell in enumerate(source.cells):
        grade_id = _grade_id(cell)
        if not _is_test_cell(cell) or grade_id in present:
            continue
        anchor = _last_present_before(source.cells[:position], submitted, present)
        submitted.cells.insert(anchor + 1, _fresh_copy(cell))
        present.add(grade_id)
        restored.append(grade_id)
    return restored


def drop_duplicates(submitted):
    """Keeps each grade_id on its last cell only, in place.

    Extra copies of a test cell are removed; extra copies of any other cell
    lose their nbgrader metadata and stay as the student's own code.

    Returns:
        The grade_ids that repeated, sorted.
    """
    seen, repeated, kept = set(), set(), []
    for cell in reversed(submitted.cells):
        grade_id = _grade_id(cell)
        if grade_id in seen:
            repeated.add(grade_id)
            if _is_test_cell(cell):
                continue
            del cell.metadata["nbgrader"]  # now an ordinary cell of the student's
        elif grade_id is not None:
            seen.add(grade_id)
        kept.append(cell)
    submitted.cells = kept[::-1]
    return sorted(repeated)


def drop_foreign_metadata(submitted, source):
    """Removes nbgrader metadata that names no cell of the source, in place.

    The metadata is the student's to edit: a made-up grade_id (or one that
    is not even text) would fail nbgrader's validation and with it the whole
    notebook. Such a cell is the student's own, ordinary cell.

    Returns:
        How many cells lost their metadata.
    """
    known = {_grade_id(cell) for cell in source.cells} - {None}
    dropped = 0
    for cell in submitted.cells:
        metadata = cell.metadata.get("nbgrader")
        if metadata is not None and not (isinstance(metadata, dict)
                                         and metadata.get("grade_id") in known):
            del cell.metadata["nbgrader"]
            dropped += 1
    return dropped


def repair_file(path, source_path):
    """Repairs the notebook file at `path` in place; returns whether it changed."""
    submitted = nbformat.read(path, as_version=4)
    source = nbformat.read(source_path, as_version=4)
    dropped = drop_foreign_metadata(submitted, source)
    repeated = drop_duplicates(submitted)
    restored = restore_test_cells(submitted, source)
    if dropped or repeated or restored:
        nbformat.write(submitted, path)
    return bool(dropped or repeated or restored)


def _last_present_before(earlier_source_cells, submitted, present):
    """Index in `submitted` of the last earlier source cell it still has, or -1."""
    for cell in reversed(earlier_source_cells):
        grade_id = _grade_id(cell)
        if grade_id in present:
            return max(i for i, c in enumerate(submitted.cells) if _grade_id(c) == grade_id)
    return -1


def _fresh_copy(cell):
    """The cell without outputs and with a new cell id (the old one may be reused)."""
    return nbformat.v4.new_code_cell(cell.source, metadata=copy.deepcopy(cell.metadata))


def _is_test_cell(cell):
    metadata = cell.metadata.get("nbgrader", {})
    return bool(metadata.get("grade")) and not metadata.get("solution")


def _grade_id(cell):
    metadata = cell.metadata.get("nbgrader", {})
    grade_id = metadata.get("grade_id") if isinstance(metadata, dict) else None
    return grade_id if isinstance(grade_id, str) else None
