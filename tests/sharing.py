"""What a test that grades a batch of its own may take of the machine."""

import fcntl
import os

from autograder import sandbox


def batch_workers():
    """Grading workers for a test's own batch: 2, or 1 beside another pytest worker.

    Two batches of two gradings each on two cores would slow every cell by
    half, close to the corpora's short cell timeouts; one each keeps the
    machine as loaded as one batch alone.
    """
    return 1 if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1 else 2


def sandboxed_processes():
    """Processes of sandbox uids that outlived their uid's claim.

    A uid is claimed for exactly as long as its kernel or verifier may run, so
    a process whose uid nobody claims escaped its sandbox's end. Processes of
    sandboxes still running elsewhere (another test, another instructor's
    run) hold their claims and are not counted.
    """
    lock_dir = sandbox._uid_lock_dir()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        if uid >= sandbox.FIRST_SANDBOX_UID and not _claimed(lock_dir / str(uid)):
            found.append(entry)
    return found


def _claimed(lock_file):
    try:
        descriptor = os.open(lock_file, os.O_RDWR | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
