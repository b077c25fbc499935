"""nbgrader's Execute, made to survive a cell that hangs or kills its kernel.

nbgrader already interrupts a cell that passes the timeout and goes on. Two
faults defeat that: a loop that ignores the interrupt keeps the kernel busy,
so every later cell times out in turn; and a cell that kills the kernel
(``os._exit``, a crash) ends the run, so nothing is graded. Either way the
student would lose the points earned in every other exercise.

After such a cell this preprocessor restarts the kernel, replays the code of
the cells that had run cleanly (silently, so the definitions are back) and
goes on with the next cell. The faulty cell keeps an error that says what
happened. It also caps how much text one cell may print, because 50 MB of
output would otherwise land in the feedback page.
"""

import asyncio

from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer

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

    def preprocess(self, nb, resources=None, km=None):
        self._clean_sources = []  # code of the cells that ran without an error
        return super().preprocess(nb, resources, km)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return super().preprocess_cell(cell, resources, index)
        try:
            cell, resources = super().preprocess_cell(cell, resources, index)
        except DeadKernelError:
            self._add_error(cell, "KernelDied", (
                "the kernel stopped while this cell ran (did it exit, crash or run out "
                "of memory?); grading restarted it, without this cell, and went on"))
            self._restart_and_replay()
            return cell, self.resources
        except CellTimeoutError:  # still busy after the interrupt: its output never ended
            if not _has_error(cell, TIMEOUT_ERROR):
                self._add_error(cell, TIMEOUT_ERROR, f"no reply within {self.timeout} s")
            self._add_error(cell, "KernelRestarted", RESTART_TEXT)
            self._restart_and_replay()
            return cell, self.resources
        finally:
            self._limit_output(cell)
        if _has_error(cell, TIMEOUT_ERROR):
            if not self._kernel_answers():
                self._add_error(cell, "KernelRestarted", RESTART_TEXT)
                self._restart_and_replay()
        elif not _has_error(cell):
            self._clean_sources.append(cell.source)
        return cell, self.resources

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


def _has_error(cell, name=None):
    return any(output.get("output_type") == "error" and name in (None, output.get("ename"))
               for output in cell.get("outputs", []))
