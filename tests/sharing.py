"""What a test that grades a batch of its own may take of the machine."""

import os


def batch_workers():
    """Grading workers for a test's own batch: 2, or 1 beside another pytest worker.

    Two batches of two gradings each on two cores would slow every cell by
    half, close to the corpora's short cell timeouts; one each keeps the
    machine as loaded as one batch alone.
    """
    return 1 if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1 else 2
