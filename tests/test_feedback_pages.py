"""Feedback pages and the report, opened in Chromium: nothing a student wrote runs.

A hostile submission (tests/hostile_pages.py) is graded for real; its
feedback page and the class report are opened in headless Chromium, and
every payload that runs leaves its number in ``window.ran``. The same
notebook rendered by plain nbconvert, unsanitised, is the control: there
the payloads do run, so a silent browser is not what passes the test.
"""

import json

import nbformat
import pytest
from nbconvert import HTMLExporter

from autograder import batch, report
from tests import hostile_pages
from tests.chromium import chromium

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    class_dir = tmp_path_factory.mktemp("class")
    nbformat.write(hostile_pages.hostile_notebook(), class_dir / "mallory.ipynb")
    out = tmp_path_factory.mktemp("out")
    (result,) = batch.grade_class(class_dir, out, workers=1)
    return out, result


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with chromium(tmp_path_factory.mktemp("profile")) as context:
        yield context


def payloads_that_ran(browser, path):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(1500)  # onload, ontoggle, autofocus and timers
    ran = set(page.evaluate("window.ran || []"))
    live = page.evaluate(LIVE_PAYLOADS)  # what could still run: a click, a timer
    page.close()
    return ran | {f"dialog: {message}" for message in dialogs} | {
        f"live: {markup}" for markup in live}


# Scripts, event handlers and javascript: links left in the page, which a
# click or a timer could still set off even though nothing has run yet.
LIVE_PAYLOADS = """() => {
  const found = [];
  for (const element of document.querySelectorAll('*')) {
    if (element.tagName === 'SCRIPT' && element.textContent.includes('window.ran'))
      found.push('script');
    for (const attribute of element.attributes) {
      const value = attribute.value || '';
      if ((attribute.name.startsWith('on') || value.startsWith('javascript:'))
          && (value.includes('ran') || value.startsWith('javascript:')))
        found.push(element.tagName + ' ' + attribute.name);
    }
  }
  return found;
}"""


def test_unsanitised_rendering_runs_the_payloads(graded, browser, tmp_path):
    """The control: the payloads are live in plain nbconvert's page."""
    out, result = graded
    autograded = nbformat.read(result.autograded, as_version=4)
    page, _ = HTMLExporter(template_name="classic").from_notebook_node(autograded)
    control = tmp_path / "control.html"
    control.write_text(page)
    ran = payloads_that_ran(browser, control)
    assert {1, 2, 11, 12} <= ran, ran
    assert any(str(marker).startswith("live:") for marker in ran), ran


def test_no_payload_runs_in_the_feedback_page(graded, browser):
    out, result = graded
    assert result.status == "graded" and result.total == 10, result.reason
    assert result.feedback is not None, result.reason
    assert payloads_that_ran(browser, result.feedback) == set()
    assert "Content-Security-Policy" in result.feedback.read_text()[:2000]


def test_no_payload_runs_in_the_report(graded, browser):
    out, _ = graded
    results = json.loads((out / batch.RESULTS_FILE).read_text())
    hostile = dict(results["results"][0])
    hostile.update(student_id="eve", status="failed", file="<img src=x onerror="
                   "'window.ran=[31]'>.ipynb",
                   reason="<script>window.ran=[32]</script>\x1b[2J",
                   flags=["flagged: <svg onload='window.ran=[33]'>"])
    results["results"].append(hostile)
    (out / batch.RESULTS_FILE).write_text(json.dumps(results))
    page = report.write_report(out)
    assert payloads_that_ran(browser, page) == set()
    assert "\x1b" not in page.read_text()
