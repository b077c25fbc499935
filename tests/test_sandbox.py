"""The student's kernel runs in a sandbox: its own folders only, no network.

Each test starts a real kernel (plain Python, so it takes seconds) through
the kernelspec grading writes, and asks it what it can reach.
"""

import json
import socket
import textwrap

import nbformat
import pytest
from nbclient import NotebookClient
from traitlets.config import Config

from autograder import course, sandbox

needs_bubblewrap = pytest.mark.skipif(
    bool(sandbox.bubblewrap_problem()),
    reason=f"no sandbox on this machine: {sandbox.bubblewrap_problem()}")
MEMORY = 2**30  # enough for a plain Python kernel


def run_kernel(tmp_path, monkeypatch, code, sandboxed=True, memory=MEMORY):
    """Runs `code` in a grading kernel; returns what it printed as JSON."""
    places = sandbox.KernelPlaces(
        notebook_dir=tmp_path / "notebook", export_dir=tmp_path / "exports",
        runtime_dir=tmp_path / "runtime", data_dir=course.DATA_DIR,
        data_files=course.NOTEBOOK_DATA)
    places.notebook_dir.mkdir()
    sandbox.write_kernelspec(tmp_path / "jupyter", places, memory, sandboxed)
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    config = Config()
    config.KernelManager.transport = "ipc"
    config.KernelManager.connection_file = str(places.connection_file)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        textwrap.dedent(code) + "\nimport json; print(json.dumps(found))")])
    NotebookClient(notebook, kernel_name=sandbox.KERNEL_NAME, config=config, timeout=60,
                   allow_errors=True,
                   resources={"metadata": {"path": str(places.notebook_dir)}}).execute()
    outputs = notebook.cells[0].outputs
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert text, f"the kernel printed nothing: {outputs}"
    return places, json.loads(text.strip().splitlines()[-1])


@needs_bubblewrap
def test_kernel_sees_its_folders_and_not_the_course(tmp_path, monkeypatch):
    """Can the kernel read the data and write exports, but not see the grader's
    reference, the repository or the folders around its notebook?"""
    places, found = run_kernel(tmp_path, monkeypatch, f"""
        import os, importlib.util
        open(os.environ["GRADING_EXPORT_DIR"] + "/probe.txt", "w").write("saved")
        found = {{
            "data": sorted(os.listdir(os.environ["SIGNS_DATA_DIR"])),
            "experiments": os.listdir(os.environ["SIGNS_DATA_DIR"] + "/experiments"),
            "exporter": importlib.util.find_spec("autograder.exporter") is not None,
            "reference": importlib.util.find_spec("autograder.reference") is not None,
            "repository": os.path.exists({str(course.ROOT / 'autograder' / 'reference.py')!r}),
            "beside_notebook": sorted(os.listdir("..")),
            "cwd": os.getcwd(),
        }}
    """)
    assert found["data"] == ["experiments", "test_signs.h5", "train_signs.h5"]
    assert found["experiments"] == ["degradation.json"]
    assert found["exporter"] and not found["reference"] and not found["repository"]
    # Only the three bind mounts: not the kernelspec folder beside them.
    assert found["beside_notebook"] == ["exports", "notebook", "runtime"]
    assert found["cwd"] == str(places.notebook_dir)
    assert (places.export_dir / "probe.txt").read_text() == "saved"


@needs_bubblewrap
def test_kernel_has_no_network_and_a_clean_environment(tmp_path, monkeypatch):
    """Is a server on the grader's localhost out of reach, and does nothing of
    the grader's environment leak into the kernel's?"""
    monkeypatch.setenv("GRADER_SECRET", "do not show")
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        _, found = run_kernel(tmp_path, monkeypatch, f"""
            import os, socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3).close()
                reached = True
            except OSError:
                reached = False
            found = {{"reached": reached, "environment": sorted(os.environ)}}
        """)
    assert found["reached"] is False
    assert "GRADER_SECRET" not in found["environment"]
    assert "GRADING_EXPORT_DIR" in found["environment"]


@pytest.mark.parametrize("sandboxed", [
    pytest.param(True, marks=needs_bubblewrap), False])
def test_memory_bomb_raises_memory_error_in_the_kernel(tmp_path, monkeypatch, sandboxed):
    """Does allocating past the cap raise MemoryError, leaving the kernel alive,
    with and without the sandbox?"""
    _, found = run_kernel(tmp_path, monkeypatch, f"""
        try:
            hoard = bytearray({2 * MEMORY})
            found = "allocated"
        except MemoryError:
            found = "MemoryError"
    """, sandboxed=sandboxed)
    assert found == "MemoryError"


def test_isolation_says_what_it_gives():
    """Does each sandbox mode say how kernels are isolated, and refuse a bad one?"""
    sandboxed, text = sandbox.isolation("none")
    assert not sandboxed and "WITHOUT a sandbox" in text
    with pytest.raises(ValueError, match="'docker'"):
        sandbox.isolation("docker")
    if sandbox.bubblewrap_problem():
        with pytest.raises(ValueError, match="bubblewrap"):
            sandbox.isolation("bubblewrap")
    else:
        assert sandbox.isolation("bubblewrap") == sandbox.isolation("auto")
        assert sandbox.isolation("auto")[0] is True
