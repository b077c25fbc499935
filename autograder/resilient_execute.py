"""nbgrader's Execute, made to survive a cell that hangs or kills its kernel.

nbgrader already interrupts a cell that passes the timeout and goes on. Two
faults defeat that: a loop that ignores the interrupt keeps the kernel busy,
so every later cell times out in turn; and a cell that kills the kernel
(``os._exit``, a crash) ends the run, so nothing is graded. Either way the
student would lose the points earned in every other exercise.

After such a cell this preprocessor restarts the kernel, replays the code of
the cells that had run cleanly (silently, so the definitions are back) and
goes on with the next cell. The faulty cell keeps an error that says what
happened.

It is also where the host meets what the kernel sends:

- before any code runs in a sandboxed kernel, its sockets are pinned
  (``sandbox.pin_kernel_sockets``), so a link the kernel makes later is
  never followed;
- every output, of every MIME type, counts against a per-cell byte budget
  as it arrives; past it, outputs are dropped and a note says so; streams
  also keep a character cap; widgets' comm messages are ignored;
- the moment a hidden-test cell ends (recognised by its source, never by
  metadata the student could forge), its export is moved into the
  grader's snapshot folder (``snapshot.take_exports``).
"""

import asyncio
import json
import os
import signal

import nbformat
import zmq.asyncio
from jupyter_core.utils import ensure_async, run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, Unicode

from autograder import course, sandbox, snapshot

TIMEOUT_ERROR = "CellTimeoutError"
RESTART_TEXT = ("this cell did not stop when interrupted after the timeout; grading "
                "restarted the kernel, without this cell, and went on")


class ResilientExecute(Execute):
    """Execute that restarts a hung or dead kernel and carries on."""

    recovery_timeout = Integer(
        10, help="Seconds an interrupted kernel has to answer before it is restarted."
    ).tag(config=True)
    max_output_characters = Integer(
        100_000, help="Characters of stream output kept per cell; the rest is cut."
    ).tag(config=True)
    max_cell_output_bytes = Integer(
        4 * 2**20, help="Bytes of output of every kind kept per cell; the rest is dropped."
    ).tag(config=True)
    snapshot_dir = Unicode(
        "", help="Where each hidden-test cell's export goes as the cell ends; "
        "empty: exports are not taken."
    ).tag(config=True)
    source_notebook = Unicode(
        "", help="The source notebook, whose hidden-test cells say which cells export."
    ).tag(config=True)
    kernel_uid = Integer(
        -1, help="The uid a sandboxed kernel runs as; its sockets are pinned. -1: none."
    ).tag(config=True)
    kernel_cpu_seconds = Integer(
        0, help="The CPU seconds each kernel process may use (RLIMIT_CPU, set when the "
        "kernel starts), named when a kernel dies of it; 0: no limit."
    ).tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        self._clean_sources = []  # code of the cells that ran without an error
        self._exporting_cells = _hidden_test_cells(self.source_notebook)
        self._pinned = []  # descriptors of the pinned sockets
        try:
            return super().preprocess(nb, resources, km)
        finally:
            self._close_pinned()

    async def async_start_new_kernel_client(self):
        if self.kernel_uid < 0:
            return await super().async_start_new_kernel_client()
        self._close_pinned()
        links = os.path.join(os.path.dirname(self.km.connection_file), "pinned")
        ports = [getattr(self.km, f"{channel}_port") for channel in sandbox.KERNEL_CHANNELS]
        prefix, self._pinned = sandbox.pin_kernel_sockets(
            self.km.ip, ports, self.kernel_uid, links, self.startup_timeout)
        # One message may be no larger than a cell's whole output budget.
        context = zmq.asyncio.Context()
        context.setsockopt(zmq.MAXMSGSIZE, self.max_cell_output_bytes + 2**20)
        self.kc = self.km.client(ip=prefix, context=context)
        try:
            await ensure_async(self.kc.start_channels())
            await ensure_async(self.kc.wait_for_ready(timeout=self.startup_timeout))
        except Exception:
            await self._async_cleanup_kernel()
            raise
        self.kc.allow_stdin = False
        return self.kc

    # nbclient binds the synchronous twin to its own coroutine: rebind it to ours.
    start_new_kernel_client = run_sync(async_start_new_kernel_client)

    def _close_pinned(self):
        for descriptor in getattr(self, "_pinned", []):
            os.close(descriptor)
        self._pinned = []

    def output(self, outs, msg, display_id, cell_index):
        """Keeps an output only while the cell's byte budget lasts."""
        size = _message_size(msg)
        if size > self._budget_left:
            if not self._dropped_output:
                outs.append(NotebookNode(
                    output_type="stream", name="stderr",
                    text=(f"[the grader dropped output past this cell's limit of "
                          f"{self.max_cell_output_bytes:,} bytes]\n")))
            self._dropped_output = True
            return None
        self._budget_left -= size
        return super().output(outs, msg, display_id, cell_index)

    def handle_comm_msg(self, outs, msg, cell_index):
        """Ignores widgets: nothing graded uses them, and their state is unbounded."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        self._budget_left = self.max_cell_output_bytes
        self._dropped_output = False
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            cause = ("it used more than the CPU-time limit of "
                     f"{self.kernel_cpu_seconds} s (--cpu-limit)"
                     if self._exit_code() == 128 + signal.SIGXCPU
                     else "did it exit, crash or run out of memory?")
            self._add_error(cell, "KernelDied", (
                f"the kernel stopped while this cell ran ({cause}); grading restarted "
                "it, without this cell, and went on"))
            self._restart_and_replay()
            return cell, self.resources
        except CellTimeoutError:  # still busy after the interrupt: its output never ended
            if not _has_error(cell, TIMEOUT_ERROR):
                self._add_error(cell, TIMEOUT_ERROR, f"no reply within {self.timeout} s")
            self._add_error(cell, "KernelRestarted", RESTART_TEXT)
            self._restart_and_replay()
            return cell, self.resources
        finally:
            exercise = self._exporting_cells.get(cell.source)
            if exercise and self.snapshot_dir:
                snapshot.take_exports(cell, exercise, self.snapshot_dir)
            self._limit_output(cell)
        if _has_error(cell, TIMEOUT_ERROR):
            if not self._kernel_answers():
                self._add_error(cell, "KernelRestarted", RESTART_TEXT)
                self._restart_and_replay()
        elif not _has_error(cell):
            self._clean_sources.append(cell.source)
        return cell, self.resources

    def _exit_code(self):
        """How the dead kernel's process ended (bwrap passes on 128 + a signal)."""
        try:
            return run_sync(self.km.provisioner.poll)()
        except Exception:  # no provisioner, or it cannot say: the cause stays open
            return None

    def _kernel_answers(self):
        """Whether the kernel replies to a kernel_info request in time."""
        msg_id = self.kc.kernel_info()
        try:
            run_sync(self._wait_for_shell_reply)(msg_id, self.recovery_timeout)
        except TimeoutError:
            return False
        return True

    async def _wait_for_shell_reply(self, msg_id, seconds):
        async def reply():
            while True:  # late replies to the interrupted cell come first
                message = await self.kc.shell_channel.get_msg()
                if message["parent_header"].get("msg_id") == msg_id:
                    return message

        return await asyncio.wait_for(reply(), seconds)

    def _restart_and_replay(self):
        self.log.warning("Restarting the kernel and replaying %d cells",
                         len(self._clean_sources))
        self.kc.stop_channels()
        run_sync(self.km.restart_kernel)(now=True)
        run_sync(self.async_start_new_kernel_client)()
        for source in self._clean_sources:
            msg_id = self.kc.execute(source, silent=True, store_history=False)
            try:
                run_sync(self._wait_for_shell_reply)(msg_id, self.timeout)
            except TimeoutError:
                self.log.warning("A replayed cell timed out; going on")
                return

    def _add_error(self, cell, name, text):
        cell.outputs.append(NotebookNode(output_type="error", ename=name, evalue=text,
                                         traceback=[f"{name}: {text}"]))

    def _limit_output(self, cell):
        remaining = self.max_output_characters
        for output in cell.get("outputs", []):
            if output.get("output_type") != "stream":
                continue
            text = output.get("text", "")
            if len(text) > remaining:
                cut = len(text) - max(remaining, 0)
                output.text = text[:max(remaining, 0)] + (
                    f"\n... {cut} characters of output cut by the grader ...\n")
            remaining -= min(len(text), max(remaining, 0))


def _hidden_test_cells(source_notebook):
    """Maps the source of each hidden-test cell to its grade_id."""
    if not source_notebook:
        return {}
    notebook = nbformat.read(source_notebook, as_version=4)
    return {cell.source: cell.metadata["nbgrader"]["grade_id"] for cell in notebook.cells
            if cell.cell_type == "code" and course.HIDDEN_TESTS_MARKER in cell.source}


def _message_size(msg):
    """The bytes an output message would add to the notebook."""
    return len(json.dumps(msg.get("content", {}), default=str))


def _has_error(cell, name=None):
    return any(output.get("output_type") == "error" and name in (None, output.get("ename"))
               for output in cell.get("outputs", []))
