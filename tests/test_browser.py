"""The student's JupyterLab, in a real browser: what a student sees and clicks.

A notebook that passes under nbclient can still fail in JupyterLab, so these
tests drive headless Chromium (Debian's, through Playwright) against a
JupyterLab server with nbgrader's lab extension, started on a free localhost
port in a temporary copy of the release folder, assignment/residual_networks/.
Nothing in the repository changes but the screenshots, one per step, which go
to out/browser/ (git-ignored):

    1_release_notebook.png    the release notebook as a student opens it
    2_finished_run_all.png    the finished notebook after Run All, at its end
    3_plot.png                one plot as it rendered in the notebook
    4_validate_verdict.png    the dialog nbgrader's Validate button opened
    jupyterlab.log            the server's log, for a failed run

For speed, the server's environment sets NBGRADER_EXECUTION=autograde, as
nbgrader does while it grades: the notebook's training cell then runs a
one-step smoke fit instead of 18 epochs (resnet_helpers/training.py,
`is_grading_run`). Validate sets NBGRADER_EXECUTION itself, so its run is a
smoke fit anyway. The four tests share one server and one browser and run in
this order: 50 to 120 s in all on 2 cores, as busy as the machine is, plus
about 70 s the first time, when they install Chromium.
"""

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from autograder import course
from tests.chromium import CHROMIUM, CHROMIUM_ARGS, ensure_chromium

pytestmark = pytest.mark.browser

ROOT = course.ROOT
RELEASE_FOLDER = ROOT / "assignment" / course.ASSIGNMENT
SOURCE_NOTEBOOK = course.SOURCE_ASSIGNMENT / course.NOTEBOOK
FINISHED_NOTEBOOK = "Residual_Networks_finished.ipynb"
SCREENSHOTS = ROOT / "out" / "browser"


TITLE = "Residual Networks"
EXERCISE_HEADINGS = (
    "3. Exercise 1: the identity block",
    "4. Exercise 2: the convolutional block",
    "5. Exercise 3: ResNet-50",
)
# A call that draws one matplotlib figure: the helpers' plot_*, draw_* and
# sketch_* functions, and predict_sign, which shows the image and its scores.
FIGURE_CALL = re.compile(r"\b(?:plot_\w+|draw_\w+|sketch_\w+|predict_sign)\(")
# How JupyterLab shows an image/png output.
PNG_IMAGE = (".jp-OutputArea-output[data-mime-type='image/png'] "
             "img[src^='data:image/png']")

SERVER_START_SECONDS = 90
RUN_ALL_SECONDS = 300
VALIDATE_SECONDS = 300


# ---------------------------------------------------------------- the browser

@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    ensure_chromium()
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        yield context
        context.close()


# ----------------------------------------------------------------- the server

def finished_notebook(release_notebook_path):
    """The release notebook with each exercise answered, as a student hands it in.

    Each solution cell of the release takes the source notebook's cell of the
    same grade_id, without nbgrader's solution markers; every other cell,
    hidden-test placeholders included, stays as released.
    """
    release = nbformat.read(release_notebook_path, as_version=4)
    source = nbformat.read(SOURCE_NOTEBOOK, as_version=4)
    answers = {
        cell.metadata["nbgrader"]["grade_id"]: cell.source
        for cell in source.cells if cell.metadata.get("nbgrader", {}).get("solution")
    }
    markers = {"### BEGIN SOLUTION", "### END SOLUTION"}
    answered = 0
    for cell in release.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in answers:
            lines = answers[grade_id].splitlines()
            cell.source = "\n".join(
                line for line in lines if line.strip() not in markers)
            answered += 1
    assert answered == len(answers) > 0, (
        f"answered {answered} release cells with the source's solutions "
        f"{sorted(answers)}: the two notebooks' solution cells differ")
    return release


def free_port():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def server_environment(state):
    """The environment a student's server has, plus the smoke fit and private state."""
    environment = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "IPYTHON", "PYTHONPATH", "NBGRADER"))
    }
    environment.update(
        SIGNS_DATA_DIR=str(course.DATA_DIR),  # the release has no data/ folder
        NBGRADER_EXECUTION="autograde",  # one-step smoke fit, see the module docstring
        # Nothing from this machine's user folders: no user kernels, settings,
        # workspaces or IPython start-up files.
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        IPYTHONDIR=str(state / "ipython"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return environment


def wait_until_answering(process, url, log_path):
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"JupyterLab exited with {process.returncode}:\n"
                        f"{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {SERVER_START_SECONDS} s:\n"
                f"{log_path.read_text()[-3000:]}")


def stop(process):
    """Stops the server, which shuts its kernels down, and its process group."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@dataclass
class Lab:
    """A running JupyterLab server."""

    base_url: str
    token: str
    folder: Path  # the folder it serves: the release and a finished copy


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on a free localhost port, in a copy of the release."""
    work = tmp_path_factory.mktemp("lab")
    folder = work / course.ASSIGNMENT
    shutil.copytree(RELEASE_FOLDER, folder, ignore=shutil.ignore_patterns(
        "__pycache__", ".ipynb_checkpoints"))
    finished = finished_notebook(folder / course.NOTEBOOK)
    nbformat.write(finished, folder / FINISHED_NOTEBOOK)
    # No "get Jupyter news?" prompt over the screenshots: the settings say no.
    news = work / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    port, token = free_port(), secrets.token_hex(16)
    log_path = work / "jupyterlab.log"
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={folder}", "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with open(log_path, "w") as log:
        # Run from the served folder, as a student would: nbgrader's Validate
        # reads nbgrader_config.py from the server's working folder.
        process = subprocess.Popen(
            command, cwd=folder, env=server_environment(work), stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(process, f"{base_url}/api/status?token={token}", log_path)
        yield Lab(base_url, token, folder)
    finally:
        stop(process)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(log_path, SCREENSHOTS / "jupyterlab.log")  # for a failed run


# ------------------------------------------------------------------- the pages

def screenshot(page_or_element, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_or_element.screenshot(path=str(SCREENSHOTS / name))


# JupyterLab attaches a long notebook's cells in batches, after the panel shows.
ALL_CELLS_SHOWN = """([numCode, numMarkdown]) => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!panel) return false;
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
    const markdown = panel.querySelectorAll('.jp-MarkdownCell.jp-mod-rendered');
    return prompts.length === numCode && markdown.length === numMarkdown
        && prompts.every(p => p.textContent.trim() !== '');
}"""

# Run All marks every cell it queues [*] at once; each turns [n] when it ends.
# After an error JupyterLab clears the rest, which show [ ] again.
RUN_ALL_ENDED = """() => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')]
        .map(p => p.textContent.trim());
    const kernel = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    return !prompts.some(p => p.includes('*'))
        && prompts.some(p => /^\\[\\d+\\]:$/.test(p))
        && kernel.getAttribute('data-status') === 'idle';
}"""


def open_notebook(context, lab, name):
    """Opens a notebook in a new page; waits for all its cells and an idle kernel."""
    notebook = nbformat.read(lab.folder / name, as_version=4)
    kinds = [cell.cell_type for cell in notebook.cells]
    page = context.new_page()
    # A workspace of its own, or JupyterLab reopens every notebook opened before.
    workspace = Path(name).stem.lower()
    page.goto(f"{lab.base_url}/lab/workspaces/{workspace}/tree/{name}?token={lab.token}")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    expect(panel).to_be_visible(timeout=60_000)
    page.wait_for_function(
        ALL_CELLS_SHOWN, arg=[kinds.count("code"), kinds.count("markdown")],
        timeout=60_000)
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute(
        "data-status", "idle", timeout=60_000)
    return page


def rendered_headings(page):
    """The text of the rendered h1 and h2 headings, without their anchor links."""
    texts = page.locator(".jp-RenderedMarkdown").locator("h1, h2").all_text_contents()
    return [text.replace("¶", "").strip() for text in texts]


def scroll_to_heading(page, text):
    """Scrolls a rendered heading into view, as a student reaching it would."""
    heading = page.locator(".jp-RenderedMarkdown").locator("h1, h2").filter(
        has_text=re.compile(rf"^{re.escape(text)}¶?$"))
    heading.scroll_into_view_if_needed()
    expect(heading).to_be_visible()


def code_cell_prompts(page):
    """The code cells' prompts: [ ]: not run, [*]: queued or running, [3]: run third.

    Read as text content: the browser skips laying out cells far out of view
    (content-visibility), and their rendered text (innerText) is then empty.
    """
    return [text.strip() for text in page.locator(".jp-CodeCell .jp-InputArea-prompt")
            .all_text_contents()]


def run_all(page):
    """Runs every cell through the Run menu and waits for the last to finish."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(RUN_ALL_ENDED, timeout=RUN_ALL_SECONDS * 1000)


def expected_figures(notebook_path):
    """Figures the notebook draws, by cell index: one per figure call."""
    notebook = nbformat.read(notebook_path, as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {i: len(FIGURE_CALL.findall(cell.source))
            for i, cell in enumerate(code_cells) if FIGURE_CALL.search(cell.source)}


@dataclass
class FinishedRun:
    """The finished notebook's page after Run All, and its code cells' prompts."""

    page: Page
    prompts: list


@pytest.fixture(scope="module")
def finished_run(browser_context, lab):
    """The finished notebook in JupyterLab after Run All."""
    page = open_notebook(browser_context, lab, FINISHED_NOTEBOOK)
    started = time.monotonic()
    try:
        run_all(page)
    except PlaywrightTimeoutError:
        screenshot(page, "2_finished_run_all.png")
        pytest.fail(f"Run All did not end within {RUN_ALL_SECONDS} s; prompts: "
                    f"{code_cell_prompts(page)}; see 2_finished_run_all.png")
    print(f"\nRun All took {time.monotonic() - started:.0f} s")
    prompts = code_cell_prompts(page)
    page.locator(".jp-CodeCell").last.scroll_into_view_if_needed()
    screenshot(page, "2_finished_run_all.png")
    yield FinishedRun(page, prompts)
    page.close()


# ------------------------------------------------------------------- the tests

def test_release_notebook_shows_title_and_exercises(browser_context, lab):
    """Does the release notebook open with its title, three exercises and Validate?"""
    page = open_notebook(browser_context, lab, course.NOTEBOOK)
    expect(page.locator(".jp-RenderedMarkdown h1").first).to_be_visible()
    screenshot(page, "1_release_notebook.png")
    headings = rendered_headings(page)
    missing = [h for h in (TITLE, *EXERCISE_HEADINGS) if h not in headings]
    assert not missing, f"headings not rendered: {missing}; rendered: {headings}"
    for heading in EXERCISE_HEADINGS:
        scroll_to_heading(page, heading)
    expect(page.locator(".validate-button")).to_be_visible()
    page.close()


def test_finished_notebook_runs_to_the_end(finished_run):
    """Does Run All run every cell of a finished notebook, none stopped by an error?"""
    prompts = finished_run.prompts
    unrun = [i for i, prompt in enumerate(prompts)
             if not re.fullmatch(r"\[\d+\]:", prompt)]
    assert prompts and not unrun, (
        f"code cells {unrun} did not run (prompts {prompts}); an earlier cell "
        f"probably raised: see {SCREENSHOTS / '2_finished_run_all.png'}")
    errors = finished_run.page.locator(".jp-OutputArea-output", has_text="Traceback")
    assert errors.count() == 0, (
        f"a cell printed a traceback: {errors.first.text_content()}")


def test_plots_render_as_images(finished_run, lab):
    """Does every plotting cell show its figures as PNG images, and no other cell?"""
    expected = expected_figures(lab.folder / FINISHED_NOTEBOOK)
    cells = finished_run.page.locator(".jp-CodeCell")
    found = {i: cells.nth(i).locator(PNG_IMAGE).count() for i in range(cells.count())}
    found = {i: n for i, n in found.items() if n}
    print(f"\n{sum(found.values())} PNG images in {len(found)} code cells; "
          f"expected {sum(expected.values())} in {len(expected)} plotting cells")
    assert found == expected, (
        f"PNG images by code cell index: rendered {found}, expected {expected}")
    first_plot = cells.nth(min(expected)).locator(PNG_IMAGE).first
    first_plot.scroll_into_view_if_needed()
    screenshot(first_plot, "3_plot.png")


def test_validate_button_passes_the_finished_notebook(finished_run):
    """Does nbgrader's Validate button say the finished notebook passes all tests?

    Validate reruns the notebook in a kernel of its own and fails it only on a
    failing grade cell. The release's grade cells hold only a comment (the
    hidden tests are stripped), so this verdict cannot tell a right answer
    from a wrong one; test_finished_notebook_runs_to_the_end, whose visible
    check cells raise on a wrong block, can.
    """
    page = finished_run.page
    page.locator(".validate-button").click()
    message = page.locator(".jp-Dialog #validation-message")
    expect(message).to_be_visible(timeout=VALIDATE_SECONDS * 1000)
    screenshot(page, "4_validate_verdict.png")
    verdict = message.inner_text()
    assert "validation-success" in (message.get_attribute("class") or ""), (
        f"Validate did not pass: {verdict[:3000]}")
    assert "Success! Your notebook passes all the tests." in verdict
    page.locator(".jp-Dialog .jp-mod-accept").click()
