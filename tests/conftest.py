"""How `make test` shares the suite between its two pytest-xdist workers.

Each test file is one unit of work (``--dist loadfile``), so a file's shared
fixtures, a graded batch say, are built once. The longest files are handed
out first, so that none starts last and leaves the other worker idle: the
two corpora, one to each worker, then the files that grade batches of
their own. (The full-notebook training is not in `make test`; see
test_full_notebook.py.)

Times are from `pytest --durations` on 2026-12-01, a slow day. The order
only decides how the workers are packed, never a result.

Each worker is also held to its own share of the cores. Unpinned, every
TensorFlow process of both workers sized its thread pools for the whole
machine; an op then waits for a shard whose thread the other worker's
process has descheduled. Pinned, each process of a worker sees its own
cores only and sizes its pools to match, as TensorFlow counts the cores it
may run on.
"""

import os

LONGEST_FIRST = (
    "test_integrity_corpus.py",  # two graded batches of faults and cheats: 40 min
    "test_trust_boundary.py",  # two graded batches of attacks: 26 min
    "test_batch_grading.py",  # a small class graded, in parallel
    "test_hostile_corpus.py",  # hostile names, delegation, dynamic code; then accept
    "test_journal.py",  # a run killed with SIGKILL mid-batch, and resumed
    "test_feedback_pages.py",  # a hostile page graded, then opened in Chromium
    "test_gradescope.py",  # the Gradescope autograder, unpacked and run
    "test_notebook_grading.py",  # the solution graded, and nbgrader validate
    "test_full_notebook.py",  # only under `make test-training`
    "test_degradation_experiment.py",  # the experiment's quick run: about 2 min
)


def pytest_configure(config):
    worker = os.environ.get("PYTEST_XDIST_WORKER")  # gw0, gw1, ...; unset in one process
    if worker:
        os.sched_setaffinity(0, cores_of_worker(int(worker.removeprefix("gw")),
                                                int(os.environ["PYTEST_XDIST_WORKER_COUNT"])))


def cores_of_worker(index, workers):
    """The cores worker `index` of `workers` runs on: an equal share, or all if
    there are fewer cores than workers (then sharing cannot be avoided)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < workers:
        return set(cores)
    share = len(cores) // workers
    end = len(cores) if index == workers - 1 else (index + 1) * share  # the last takes the rest
    return set(cores[index * share:end])


def _rank(item):
    name = item.path.name
    return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)


def pytest_collection_modifyitems(items):
    items.sort(key=_rank)  # stable: each file keeps its own order
