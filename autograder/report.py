"""The instructor's report: one self-contained HTML page about a grading run.

It reads the results.json that `grade` wrote and shows the score histogram,
each exercise's pass rate, the most common mistakes (from the verifier's
diagnosis tags), the submissions flagged for cheat attempts, how the
kernels were isolated, and every submission that could not be graded.
Plots are PNGs embedded in the page, so it can be mailed or archived as it is.
"""

import base64
import html
import io
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on a grading server
import matplotlib.pyplot as plt  # noqa: E402

from autograder import batch  # noqa: E402
from autograder.journal import write_atomically  # noqa: E402
from autograder.safe_text import printable  # noqa: E402

REPORT_FILE = "report.html"
# The page runs no script and loads nothing: its plots are data: images.
SECURITY_POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
                   "form-action 'none'; base-uri 'none'")
STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; }
th { background: #f3f3f3; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; }
"""


def write_report(out_dir):
    """Writes OUT/report.html from OUT/results.json; returns its path."""
    out_dir = Path(out_dir)
    data = batch.read_results(out_dir)
    results, max_scores = data["results"], data["max_scores"]
    graded = [r for r in results if r["status"] != "failed"]
    sections = [
        f"<h1>Residual Networks: grading report</h1>"
        f"<p>{len(results)} submissions: {len(graded)} graded "
        f"({sum(r['status'] == 'review' for r in results)} of them held for review), "
        f"{len(results) - len(graded)} failed. Mean score of graded submissions: "
        f"{_mean([r['total'] for r in graded]):.1f} / {sum(max_scores.values()):g}.</p>",
        "<div class='figures'>"
        + _figure(_score_histogram(results, max_scores), "Scores")
        + _figure(_pass_rates(results, max_scores), "Pass rate per exercise")
        + "</div>",
        _mistakes_section(results),
        _held_section(results),
        _flagged_section(results),
        _failed_section(results),
        f"<h2>Isolation</h2><p>{html.escape(data.get('isolation', 'not recorded'))}</p>",
    ]
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{SECURITY_POLICY}\">"
            f"<title>Grading report</title><style>{STYLE}</style></head><body>"
            + "\n".join(sections) + "</body></html>")
    path = out_dir / REPORT_FILE
    write_atomically(path, page)
    return path


def _text(value):
    """Student-chosen text for the page: printable, then escaped."""
    return html.escape(printable(str(value)))


def _mean(values):
    return sum(values) / len(values) if values else 0.0


def _score_histogram(results, max_scores):
    figure, axis = plt.subplots(figsize=(5, 3.2))
    max_total = sum(max_scores.values())
    axis.hist([r["total"] for r in results], bins=range(0, int(max_total) + 2),
              align="left", color="#4c72b0", rwidth=0.85)
    axis.set_xlabel(f"total score (out of {max_total:g})")
    axis.set_ylabel("submissions")
    return figure


def _pass_rates(results, max_scores):
    figure, axis = plt.subplots(figsize=(5, 3.2))
    columns = batch.grade_columns(max_scores)
    rates = [_mean([r["scores"].get(c, 0.0) >= max_scores[c] for r in results]) for c in columns]
    axis.barh(columns, [100 * rate for rate in rates], color="#55a868")
    axis.set_xlim(0, 100)
    axis.set_xlabel("submissions with full marks (%)")
    axis.invert_yaxis()
    return figure


def _figure(figure, title):
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f"<figure><figcaption><b>{html.escape(title)}</b></figcaption>"
            f"<img alt='{html.escape(title)}' src='data:image/png;base64,{encoded}'></figure>")


def _mistakes_section(results):
    counts = Counter()
    students = {}
    for r in results:
        for grade_id, tags in r["diagnoses"].items():
            for tag in tags:
                counts[(grade_id, tag)] += 1
                students.setdefault((grade_id, tag), []).append(r["student_id"])
    if not counts:
        return "<h2>Most common mistakes</h2><p>No diagnosed mistakes.</p>"
    rows = "".join(
        f"<tr><td>{_text(grade_id)}</td><td>{_text(tag)}</td><td>{n}</td>"
        f"<td>{_text(', '.join(students[(grade_id, tag)]))}</td></tr>"
        for (grade_id, tag), n in counts.most_common())
    return ("<h2>Most common mistakes</h2><table><tr><th>exercise</th><th>mistake</th>"
            f"<th>submissions</th><th>students</th></tr>{rows}</table>")


def _held_section(results):
    held = [(r, exercise, points) for r in results
            for exercise, points in r.get("held", {}).items()]
    if not held:
        return "<h2>Held for review</h2><p>None.</p>"
    rows = "".join(
        f"<tr><td>{_text(r['student_id'])}</td><td>{_text(exercise)}</td>"
        f"<td>{points:g}</td><td>{'<br>'.join(_text(f) for f in r['flags'] if f.startswith('held'))}"
        "</td></tr>" for r, exercise, points in held)
    return ("<h2>Held for review</h2><p>Code the scan could not follow, or a model that "
            "looks built by keras.applications. Each exercise shows 0 until an "
            "instructor reads the code; <code>python -m autograder accept OUT STUDENT "
            "EXERCISE --why TEXT</code> then gives it the points it earned.</p>"
            "<table><tr><th>student</th><th>exercise</th><th>points once accepted</th>"
            f"<th>what was found</th></tr>{rows}</table>")


def _flagged_section(results):
    flagged = [r for r in results if any(f.startswith("flagged") for f in r.get("flags", []))]
    if not flagged:
        return "<h2>Flagged submissions</h2><p>None.</p>"
    rows = "".join(f"<tr><td>{_text(r['student_id'])}</td><td>{r['total']:g}</td>"
                   f"<td>{'<br>'.join(_text(f) for f in r['flags'] if f.startswith('flagged'))}"
                   "</td></tr>"
                   for r in flagged)
    return ("<h2>Flagged submissions</h2><p>Cheat attempts found in the code or in what "
            "it saved. A cheat scores 0 on the exercises it could affect.</p>"
            "<table><tr><th>student</th><th>total</th><th>what was found</th></tr>"
            f"{rows}</table>")


def _failed_section(results):
    failed = [r for r in results if r["status"] == "failed"]
    if not failed:
        return "<h2>Submissions that could not be graded</h2><p>None.</p>"
    rows = "".join(f"<tr><td>{_text(r['student_id'])}</td><td>{_text(r.get('file', ''))}</td>"
                   f"<td>{_text(r['reason'])}</td></tr>" for r in failed)
    return ("<h2>Submissions that could not be graded</h2>"
            f"<table><tr><th>student</th><th>file</th><th>reason</th></tr>{rows}</table>")
