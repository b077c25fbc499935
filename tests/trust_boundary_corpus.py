"""Attacks on the trust boundary, each with the outcome a trustworthy grader gives.

Every case is the source notebook (all three exercises solved, unless the
case says otherwise) with attack cells added, written by a student who has
read the grader's code. Most attacks come after the graded cells, so an
attack that is held costs nothing: the honest answers keep full marks. The
cells after ResNet-50's check (training, evaluation, section 9) are left out,
as a student may leave them out, so that each grading takes seconds less.

The attacks hide every path and module name they use (``hide``), as an
attacker who has read the static scan would, so that the scan does not zero
them first: what is tested is the boundary itself. ``{CANARY}`` stands for an
expression giving a folder outside every workspace whose files must stay
byte-identical, with the same permissions (the test checks them, and the
grader's own files, after the batch).

Properties (the README's "Grades that cannot be gamed"): 1 the kernel is
unprivileged, sees almost nothing and is bounded; 2 a one-way channel; 3 the
verifier checks before Keras sees; 4 submissions never see each other.
"""

from pathlib import Path

import nbformat

from autograder import course
from tests.integrity_corpus import FULL, ONLY_BLOCKS, ONLY_CONVOLUTIONAL, Case, _apply

# The identity block's export refused: ResNet50's own export still stands.
ALL_BUT_IDENTITY = {"identity_block": 0, "convolutional_block": 3, "ResNet50": 4}



def hide(text):
    """A Python expression for `text` in which no scan finds a word of it."""
    return f"bytes.fromhex({text.encode().hex()!r}).decode()"


REPO = str(course.ROOT)
# The kernel's own connection file, which names its socket folder.
CONNECTION = "__import__('ipykernel').get_connection_file()"
EXPORT_MIME = "application/vnd.residual-networks.export+json"

# Patch the exporter so that its next export carries `files` changed by CHANGE.
_PATCH_EXPORT = f"""\
import importlib
_exporter = importlib.import_module({hide("autograder.kernel.exporter")})
_real_publish = getattr(_exporter, {hide("publish_display_data")})
def _forged(bundle, *args, **kwargs):
    payload = bundle[{EXPORT_MIME!r}]
{{change}}
    return _real_publish(bundle, *args, **kwargs)
setattr(_exporter, {hide("publish_display_data")}, _forged)
"""


def _patched(change, exercise="identity_block"):
    """Code that patches the exporter to apply `change` to `exercise`'s export."""
    change = f"if payload['exercise'] == {exercise!r}:\n" + "\n".join(
        "    " + line for line in change.splitlines())
    return _PATCH_EXPORT.format(change="\n".join("    " + line for line in change.splitlines()))


def _after_resnet(code):
    return (("insert_after", "ResNet50"), None, code)


def _before_identity_test(code):
    return (("insert_after", "identity_block_solution"), None, code)


CASES = (
    Case("honest_solution", "honest", "the solution, trimmed like the attacks", FULL),
    # 1. The kernel: unprivileged, sees almost nothing, bounded ---------------
    Case("p1_notebook_replaced_by_link", "attack",
         "replaces the notebook in its folder by a link to a host file", FULL, edits=(
             _after_resnet(
                 "import os, glob\n"
                 "for path in glob.glob('*.ipynb') + glob.glob('/home/student/*.ipynb'):\n"
                 "    os.remove(path)\n"
                 "os.symlink({CANARY} + '/victim.txt', 'Residual_Networks.ipynb')\n"
                 f"os.symlink({hide(REPO + '/autograder/grading.py')}, 'grading_link.py')"),)),
    Case("p1_reads_secrets", "attack", "reads /etc/shadow, root's home and the canaries",
         FULL, edits=(_after_resnet(
             "stolen = []\n"
             "for path in ['/etc/shadow', '/root/.bashrc', {CANARY} + '/secret.txt',\n"
             f"             {hide(REPO + '/autograder/reference.py')}, '/proc/1/environ']:\n"
             "    try:\n"
             "        stolen.append(open(path).read()[:20])\n"
             "    except OSError:\n"
             "        pass\n"
             "assert not any('canary' in text for text in stolen), stolen"),)),
    Case("p1_writes_outside", "attack", "writes to the canaries, the repository and /",
         FULL, edits=(_after_resnet(
             f"for path in [{{CANARY}} + '/victim.txt', {hide(REPO + '/autograder/verify.py')},\n"
             f"             '/usr/bin/python3', {hide('/grader/autograder/kernel/exporter.py')},\n"
             "             '/signs/train_signs.h5', '/etc/passwd', '/evil']:\n"
             "    try:\n"
             "        open(path, 'a').write('owned')\n"
             "    except OSError:\n"
             "        pass"),)),
    Case("p1_gains_privileges", "attack",
         "tries setuid(0), a user namespace of its own, unshare and mount", FULL,
         edits=(_after_resnet(
             "import ctypes, os, subprocess\n"
             "libc = ctypes.CDLL(None, use_errno=True)\n"
             "for attempt in (lambda: os.setuid(0), lambda: os.setgid(0),\n"
             "                lambda: os.chroot('/')):\n"
             "    try:\n"
             "        attempt()\n"
             "        raise SystemError('gained a privilege')\n"
             "    except PermissionError:\n"
             "        pass\n"
             "assert libc.unshare(0x10000000) != 0, 'made a user namespace'\n"
             "assert libc.unshare(0x00020000) != 0, 'made a mount namespace'\n"
             "assert libc.mount(b'none', b'/tmp', b'tmpfs', 0, None) != 0, 'mounted'\n"
             "assert subprocess.run(['unshare', '-r', 'id']).returncode != 0, 'became root'"),)),
    Case("p1_fills_the_disk", "attack", "writes 2 GiB to its home and to /tmp", FULL,
         edits=(_after_resnet(
             "for path in ['filler', '/tmp/filler']:\n"
             "    try:\n"
             "        with open(path, 'wb') as f:\n"
             "            for _ in range(2048):\n"
             "                f.write(bytes(2**20))\n"
             "    except OSError:\n"
             "        pass"),)),
    Case("p1_fork_bomb", "attack", "forks until it cannot, and leaves the children", FULL,
         edits=(_after_resnet(
             "import os, time\n"
             "try:\n"
             "    for _ in range(2000):\n"
             "        if os.fork() == 0:\n"
             "            time.sleep(600)\n"
             "            os._exit(0)\n"
             "except OSError:\n"
             "    pass"),)),
    Case("p1_resident_memory_bomb", "attack", "touches 4 GiB more, past the memory cgroup",
         FULL, "--memory-limit", edits=(_after_resnet(
             "import numpy as np\n"
             "held = [np.ones(2**27) for _ in range(4)]  # 4 x 1 GiB, all touched"),)),
    Case("p1_kills_everything", "attack", "kills every process it can see but itself",
         FULL, edits=(_after_resnet(
             "import os, signal\n"
             "try:\n"
             "    os.kill(-1, signal.SIGKILL)\n"
             "except ProcessLookupError:  # held: it is alone in its PID namespace\n"
             "    pass"),)),
    Case("p1_huge_rich_output", "attack", "displays 60 MB of HTML and 200 large images",
         FULL, edits=(_after_resnet(
             "from IPython.display import HTML, Image, display\n"
             "display(HTML('<b>x</b>' * 7_500_000))\n"
             "png = b'\\x89PNG\\r\\n\\x1a\\n' + bytes(300_000)\n"
             "for _ in range(200):\n"
             "    display(Image(data=png, format='png'))"),)),
    Case("p1_escapes_its_cgroup", "attack", "tries to leave its cgroup and its rlimits",
         FULL, edits=(_after_resnet(
             "import os, resource\n"
             "for path in ['/sys/fs/cgroup/memory/cgroup.procs', '/sys/fs/cgroup/cgroup.procs']:\n"
             "    try:\n"
             "        open(path, 'w').write(str(os.getpid()))\n"
             "    except OSError:\n"
             "        pass\n"
             "try:\n"
             "    resource.setrlimit(resource.RLIMIT_NOFILE, (10**6, 10**6))\n"
             "    raise SystemError('raised its own limit')\n"
             "except ValueError:\n"
             "    pass"),)),
    # 2. The channel out of the kernel ----------------------------------------
    Case("p2_forged_export_later", "attack",
         "a wrong block, then a later cell sends a forged export of it",
         ONLY_CONVOLUTIONAL, "identity_block", edits=(
             (("solution", "identity_block_solution"),
              '    X = layers.Add()([X, X_shortcut])\n', '    X = layers.Add()([X, X])\n'),
             _after_resnet(
                 "from IPython.display import publish_display_data\n"
                 f"publish_display_data({{{EXPORT_MIME!r}: {{'exercise': 'identity_block',\n"
                 "                      'files': {'export.json': '{}'}}})"),)),
    Case("p2_two_exports_in_one_cell", "attack",
         "a patched exporter sends a second, forged export", ALL_BUT_IDENTITY,
         "refused", edits=(_before_identity_test(_patched(
             f"_real_publish({{{EXPORT_MIME!r}: {{'exercise': payload['exercise'],\n"
             "               'files': {'export.json': '{}'}}})")),)),
    Case("p2_export_claims_other_exercise", "attack",
         "the identity block's export relabelled as ResNet50's", ALL_BUT_IDENTITY,
         "refused", edits=(_before_identity_test(_patched(
             "payload['exercise'] = 'ResNet50'")),)),
    Case("p2_export_path_traversal", "attack",
         "an export whose file names climb out of the snapshot", ALL_BUT_IDENTITY,
         "refused", edits=(_before_identity_test(_patched(
             "payload['files']['../../../../../' + {CANARY_NAME} + '/planted.txt'] = 'x'\n"
             "payload['files'][{CANARY} + '/planted.txt'] = 'planted'")),)),
    Case("p2_socket_links", "attack",
         "replaces its ZeroMQ sockets by links to host files, then dies", FULL,
         "KernelDied", edits=(_after_resnet(
             "import json, os\n"
             f"folder = os.path.dirname(json.load(open({CONNECTION}))['ip'])\n"
             "for name in os.listdir(folder):\n"
             "    try:\n"
             "        os.unlink(os.path.join(folder, name))\n"
             "    except OSError:\n"
             "        pass\n"
             "    try:\n"
             "        os.symlink({CANARY} + '/victim.txt', os.path.join(folder, name))\n"
             "    except OSError:\n"
             "        pass\n"
             "os.chmod(folder, 0o777) if os.access(folder, os.W_OK) else None\n"
             "os._exit(1)"),)),
    Case("p2_old_export_folder", "attack",
         "writes fake exports where the old grader read them", FULL, edits=(_after_resnet(
             "import os\n"
             "for root in [os.environ.get('GRADING_EXPORT_DIR', 'exports'), 'export',\n"
             "             '/tmp/exports']:\n"
             "    os.makedirs(root + '/ResNet50', exist_ok=True)\n"
             "    open(root + '/ResNet50/model.model.json', 'w').write('{}')"),)),
    Case("p2_kernel_info_flood", "attack",
         "floods the channel with 5,000 small display messages", FULL, edits=(_after_resnet(
             "from IPython.display import display\n"
             "for index in range(5000):\n"
             "    display({'text/plain': 'x' * 2000}, raw=True)"),)),
    # 3. The verifier: sandboxed, bounded, checks before Keras ----------------
    Case("p3_huge_dense_export", "attack",
         "ResNet50's export edited to ask for a 3e9-weight Dense layer", ONLY_BLOCKS,
         "refused", edits=(_before_identity_test(_patched(
             "import json as _json\n"
             "config = _json.loads(payload['files']['model.model.json'])\n"
             "for layer in config['config']['layers']:\n"
             "    if layer['class_name'] == 'Dense':\n"
             "        layer['config']['units'] = 3 * 10**9\n"
             "payload['files']['model.model.json'] = _json.dumps(config)", "ResNet50")),)),
    Case("p3_deeply_nested_export", "attack", "an export nested 200,000 deep",
         ALL_BUT_IDENTITY, "refused", edits=(_before_identity_test(_patched(
             "payload['files']['case0.model.json'] = '[' * 200_000 + ']' * 200_000")),)),
    Case("p3_foreign_module", "attack",
         "an export naming os.system as a layer class", ALL_BUT_IDENTITY, "refused",
         edits=(_before_identity_test(_patched(
             "import json as _json\n"
             "config = _json.loads(payload['files']['case0.model.json'])\n"
             "config['config']['layers'][1]['module'] = 'os'\n"
             "config['config']['layers'][1]['class_name'] = 'system'\n"
             "payload['files']['case0.model.json'] = _json.dumps(config)")),)),
    Case("p3_lambda_layer", "attack",
         "an identity block that hides its ReLU in a Lambda layer", ONLY_CONVOLUTIONAL,
         "refused", edits=(
             (("solution", "identity_block_solution"),
              '    X = layers.Add()([X, X_shortcut])\n    X = layers.Activation("relu")(X)\n',
              '    X = layers.Add()([X, X_shortcut])\n'
              '    X = layers.Lambda(lambda t: keras.ops.relu(t))(X)\n'),)),
    Case("p3_message_probes_the_grader", "attack",
         "an export built to make the verifier's errors quote host files",
         ALL_BUT_IDENTITY, "identity_block", edits=(_before_identity_test(_patched(
             "payload['files'] = {'export.json': '{\"saved\": [\"case0\"]}',\n"
             "                    'case0.model.json': '{\"module\": \"/etc/passwd\", '\n"
             f"                    '\"class_name\": \"' + {hide('../../autograder/reference')}"
             " + '\"}'}")),)),
    # 4. Submissions never see each other -------------------------------------
    Case("p4_reaches_for_neighbours", "attack",
         "looks for other workspaces and writes into them", FULL, edits=(_after_resnet(
             "import os, glob, json\n"
             f"mine = os.path.dirname(json.load(open({CONNECTION}))['ip'])\n"
             "work = os.path.dirname(os.path.dirname(mine))\n"
             "for path in glob.glob(work + '/*/*') + glob.glob('/tmp/grading-*/work/*/*'):\n"
             "    for target in [path + '/identity_block/case0.model.json', path + '/x']:\n"
             "        try:\n"
             "            open(target, 'w').write('{}')\n"
             "        except OSError:\n"
             "            pass\n"
             "assert len([p for p in os.listdir('/proc') if p.isdigit()]) < 10, 'sees others'"),)),
    Case("p4_leaves_a_daemon", "attack",
         "leaves a daemon that waits to tamper with later submissions", FULL,
         edits=(_after_resnet(
             "import os, time\n"
             "if os.fork() == 0:\n"
             "    os.setsid()\n"
             "    if os.fork() == 0:\n"
             "        for _ in range(300):\n"
             "            for path in ['/tmp/shared.txt', {CANARY} + '/victim.txt']:\n"
             "                try:\n"
             "                    open(path, 'a').write('daemon')\n"
             "                except OSError:\n"
             "                    pass\n"
             "            time.sleep(1)\n"
             "    os._exit(0)\n"
             "open('/tmp/shared.txt', 'w').write('left for the next student')"),)),
    Case("p4_reads_what_others_left", "attack",
         "looks for files an earlier submission left in /tmp or its home", FULL,
         edits=(_after_resnet(
             "import os\n"
             "assert not os.path.exists('/tmp/shared.txt'), 'found another submission file'\n"
             "assert sorted(os.listdir('.'))[:1] != ['filler'], 'found another home'"),)),
)


def write_corpus(folder, canary_dir, cases=CASES):
    """Writes every case under `folder`/submitted/, naming `canary_dir`; returns the folder."""
    source = nbformat.read(course.SOURCE_ASSIGNMENT / course.NOTEBOOK, as_version=4)
    last_graded = max(index for index, cell in enumerate(source.cells)
                      if cell.metadata.get("nbgrader", {}).get("grade_id") == "ResNet50")
    source.cells = source.cells[:last_graded + 1]
    names = {"{CANARY}": hide(str(canary_dir)), "{CANARY_NAME}": hide(Path(canary_dir).name)}
    for case in cases:
        target = Path(folder) / "submitted" / case.student / course.ASSIGNMENT
        target.mkdir(parents=True, exist_ok=True)
        notebook = nbformat.from_dict(source)
        for where, old, new in case.edits:
            for placeholder, value in names.items():
                new = new.replace(placeholder, value) if new else new
            _apply(notebook, where, old, new, case.student)
        nbformat.write(notebook, target / case.notebook_name)
    return Path(folder)
