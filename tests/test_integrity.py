"""Cheat attempts in a notebook are flagged from its code alone; honest code is not.

Every rule has cheats that must be flagged with their tag, cell, line and cost,
and honest code that looks like them and must not be flagged at all. The real
solution and release notebooks must come out clean. Nothing here runs a
notebook or imports TensorFlow: the tests take about half a second, plus one to
three seconds to import nbformat (its JSON-schema checks compile grammars).
"""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.integrity import (
    EXERCISES,
    MAX_CODE_CHARS,
    RULES,
    Flag,
    affected_scores,
    format_flag,
    held_scores,
)
from autograder import repair
from autograder.integrity import scan as scan_against

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "residual_networks/Residual_Networks.ipynb"
IMPORTS = "import keras\nimport numpy as np\nfrom keras import layers\n"
STARTER = "def {name}(*args, **kwargs):\n    raise NotImplementedError()\n"
# Where make_notebook puts each cell when no extra cell is inserted.
IMPORT_CELL = 0
SOLUTION_CELL = {"identity_block": 1, "convolutional_block": 3, "ResNet50": 5}
TEST_CELL = {"identity_block": 2, "convolutional_block": 4, "ResNet50": 6}
FIRST_SOLUTION = SOLUTION_CELL["identity_block"]


def nbgrader(grade_id, solution=False, grade=False, locked=False):
    return {"nbgrader": {"grade_id": grade_id, "solution": solution, "grade": grade,
                         "locked": locked, "schema_version": 3, "task": False}}


def make_notebook(extra=(), at=None, solutions=None, tests=True):
    """A notebook laid out like the assignment: an import cell, then per exercise
    its solution cell and its hidden test cell.

    Args:
        extra: sources of extra code cells (no nbgrader metadata).
        at: where the extra cells go; by default, at the end.
        solutions: exercise -> the source of its solution cell.
        tests: False leaves the test cells out, as if a student deleted them.
    """
    cells = [new_code_cell(IMPORTS)]
    for exercise in EXERCISES:
        source = (solutions or {}).get(exercise, STARTER.format(name=exercise))
        cells.append(new_code_cell(source, metadata=nbgrader(
            f"{exercise}_solution", solution=True)))
        if tests:
            cells.append(new_code_cell(
                f"from autograder.checks import grade_{exercise.lower()}",
                metadata=nbgrader(exercise, grade=True, locked=True)))
    at = len(cells) if at is None else at
    cells[at:at] = [new_code_cell(source) for source in extra]
    return new_notebook(cells=cells)


def scan(notebook, release=None):
    """Scans `notebook` against the layout's own release (make_notebook's cells)."""
    return scan_against(notebook, [make_notebook() if release is None else release])


def flags_in_extra_cell(source):
    """The flags of `source` in an extra cell before every exercise."""
    return scan(make_notebook([source], at=FIRST_SOLUTION))


# (rule, source of a cell with a cheat, the line of the cheat)
CHEATS = [
    ("patches_library", "np.allclose = lambda *a, **k: True", 1),
    ("patches_library", "numpy.testing.assert_allclose = lambda *a, **k: None", 1),
    ("patches_library", "x = 1\nnp.testing.assert_array_equal = print", 2),
    ("patches_library", "keras.Model.save = lambda self, path: None", 1),
    ("patches_library", "import tensorflow as tf\ntf.math.reduce_max = max", 2),
    ("patches_library", 'setattr(np, "allclose", lambda *a, **k: True)', 1),
    ("patches_library", "import builtins\nbuiltins.print = len", 2),
    ("patches_library", "__builtins__.isinstance = lambda *a: True", 1),
    ("patches_library", "import numpy.testing as npt\nnpt.assert_allclose = print", 2),
    ("patches_library", "testing = np.testing\ntesting.assert_allclose = print", 2),
    ("patches_library", "from numpy import testing\ndel testing.assert_allclose", 2),
    ("patches_library", 'vars(np)["allclose"] = print', 1),
    ("patches_library", "layers.Conv2D.call = lambda self, x: x", 1),
    ("patches_library", "def cheat():\n    np.allclose = print\ncheat()", 2),
    ("patches_library", "%timeit -n 1 -r 1 np.allclose = print", 1),
    ("patches_library", 'exec("np.allclose = print")', 1),
    ("patches_library", '__import__("numpy").allclose = print', 1),
    ("patches_library", 'sys.modules["numpy.testing"].assert_allclose = print', 1),
    ("patches_library", "import importlib\n"
                        'importlib.import_module("keras").Model.fit = print', 2),
    ("hooks_ipython", "ip = get_ipython()\nip.set_custom_exc((Exception,), print)", 2),
    ("hooks_ipython", "get_ipython().events.register('post_run_cell', print)", 1),
    ("hooks_ipython", "get_ipython().input_transformers_cleanup.append(str)", 1),
    ("hooks_ipython", "get_ipython().ast_transformers.append(None)", 1),
    ("hooks_ipython", "get_ipython().showtraceback = print", 1),
    ("hooks_ipython", "get_ipython().register_magic_function(print)", 1),
    ("hooks_ipython", "sys.excepthook = print", 1),
    ("hooks_ipython", "sys.settrace(print)", 1),
    ("hooks_ipython", "sys.setprofile(print)", 1),
    ("hooks_ipython", "import atexit\natexit.register(print)", 2),
    ("hooks_ipython", "from IPython.core.interactiveshell import InteractiveShell\n"
                      "InteractiveShell.showtraceback = print", 2),
    ("edits_modules", 'sys.modules["numpy"] = None', 1),
    ("edits_modules", "sys.modules.update(numpy=None)", 1),
    ("edits_modules", 'sys.modules.pop("keras")', 1),
    ("edits_modules", 'del sys.modules["tensorflow"]', 1),
    ("edits_modules", "import importlib\nimportlib.reload(np)", 2),
    ("edits_modules", "from importlib import reload\nreload(keras.layers)", 2),
    ("reads_grader", "from autograder.checks import grade_resnet50 as check", 1),
    ("reads_grader", "import nbgrader", 1),
    ("reads_grader", "from solutions.residual_networks import resnet_helpers", 1),
    ("reads_grader", "from somewhere import reference", 1),
    ("reads_grader", 'path = "../gradebook.db"', 1),
    ("reads_grader", 'text = open("../../autograder/checks.py").read()', 1),
    ("reads_grader", 'source = open("/home/grader/source/Residual_Networks.ipynb")', 1),
    ("reads_grader", 'from pathlib import Path\nPath("/srv/course/grades.db")', 2),
    ("reads_grader", "!cat ../solutions/residual_networks/Residual_Networks.ipynb", 1),
    ("uses_keras_applications", "base = keras.applications.ResNet50(weights=None)", 1),
    ("uses_keras_applications", "import tensorflow as tf\n"
                                "tf.keras.applications.resnet50.ResNet50()", 2),
    ("uses_keras_applications", "from keras.applications import ResNet50", 1),
    ("uses_keras_applications", "from keras.src.applications.resnet import ResNet", 1),
    ("uses_keras_applications", "import keras.applications", 1),
    ("uses_keras_applications", "from tensorflow.keras.applications import resnet", 1),
    ("uses_keras_applications", 'import importlib\n'
                                'importlib.import_module("keras.applications")', 2),
    # Keras' ResNet and its residual blocks, reached in other ways than by name.
    ("uses_keras_applications", 'getattr(keras, "applications").ResNet50()', 1),
    ("uses_keras_applications", 'getattr(getattr(keras, "src"), "applications")', 1),
    ("uses_keras_applications", 'm = __import__("keras.applications")', 1),
    ("uses_keras_applications", 'sys.modules["keras"].applications.ResNet50()', 1),
    ("uses_keras_applications", 'vars(keras)["applications"].ResNet50()', 1),
    ("uses_keras_applications", 'keras.__dict__["applications"].ResNet50()', 1),
    ("uses_keras_applications", "k = keras\nk.applications.ResNet50()", 2),
    ("uses_keras_applications", "from keras.src.applications.resnet import "
                                "residual_block_v1", 1),
    ("uses_keras_applications", "X = blocks.residual_block_v1(X, 64)", 1),
    ("uses_keras_applications", "import operator\n"
                                'operator.attrgetter("applications.ResNet50")(keras)', 2),
    ("uses_keras_applications", 'name = "stack_residual_blocks_v1"', 1),
    ("dynamic_code", 'getattr(keras, "appl" + "ications").ResNet50()', 1),
    ("dynamic_code", 'import importlib\nimportlib.import_module("keras." + part)', 2),
    ("dynamic_code", "module = __import__(name)", 1),
    ("dynamic_code", "exec(code)", 1),
    ("dynamic_code", 'value = eval("1 + 1")', 1),
    ("dynamic_code", 'run = compile(text, "cell", "exec")', 1),
    ("dynamic_code", "resnet = sys.modules[name]", 1),
    ("dynamic_code", "found = [m for m in list(sys.modules.values())]", 1),
    ("dynamic_code", "import inspect\nframe = inspect.currentframe()", 2),
    ("dynamic_code", "import importlib.util", 1),
    ("dynamic_code", "look = getattr\nlook(keras, name)", 1),
    ("dynamic_code", "from functools import reduce\nreduce(getattr, parts, keras)", 2),
    ("dynamic_code", "g = (lambda: 0).__globals__", 1),
    ("dynamic_code", "kinds = ().__class__.__bases__[0].__subclasses__()", 1),
    ("dynamic_code", 'open("helper.py", "w").write(code)', 1),
    ("dynamic_code", "%%writefile helper.py\nimport keras", 1),
    ("dynamic_code", "table = vars(keras)[name]", 1),
    ("dynamic_code", "builtins_ = __builtins__", 1),
    ("dynamic_code", "getattr(keras.layers, kind)(64)", 1),
    ("dynamic_code", "modules = [np, keras]\ngetattr(modules[1], name)", 2),
    ("dynamic_code", "found = keras.__dict__.get(name)", 1),
    ("dynamic_code", "for name, value in vars(keras).items():\n    pass", 1),
    ("dynamic_code", "!python make_model.py", 1),
    ("dynamic_code", "%%bash\necho hi", 1),
    ("dynamic_code", "import subprocess\nsubprocess.run(['python', '-c', code])", 2),
    ("dynamic_code", "import os\nos.system(command)", 2),
    ("dynamic_code", 'model = keras.models.load_model("resnet.keras")', 1),
    ("dynamic_code", "from keras.models import model_from_json\nm = model_from_json(t)", 2),
    ("uses_keras_applications", "[keras][0].applications.ResNet50()", 1),
    ("uses_keras_applications", "import importlib\n"
                                "A = importlib.import_module('.applications', 'keras')", 2),
    # Found by an attacker reading the scan; each reached a module unseen.
    ("dynamic_code", "reg = keras.src.api_export.REGISTERED_NAMES_TO_OBJS", 1),
    ("dynamic_code", "k = keras if True else None\ngetattr(k, n)", 2),
    ("dynamic_code", "(m := keras)\ngetattr(m, n)", 2),
    ("dynamic_code", "from importlib import import_module as im\nim(n)", 2),
    ("dynamic_code", "import importlib\nim = importlib.import_module\nim(n)", 3),
    ("dynamic_code", "mods = dict(sys.modules)", 1),
    ("dynamic_code", "table = dict(vars(keras))", 1),
    ("dynamic_code", "found = sys.modules.__getitem__(n)", 1),
    ("dynamic_code", "found = keras.__dict__.__getitem__(n)", 1),
    ("dynamic_code", "import operator\nfound = operator.getitem(sys.modules, n)", 2),
    ("dynamic_code", "get_ipython().run_cell('from keras import src')", 1),
    ("dynamic_code", "globals()['__builtins__'].exec(code)", 1),
    ("dynamic_code", "%run notes.txt", 1),
    ("dynamic_code", "data = np.load('x.npy', allow_pickle=True)", 1),
    ("dynamic_code", "lm = keras.models.load_model", 1),
    ("dynamic_code", "block = keras.layers.deserialize(config)", 1),
    ("dynamic_code", "import subprocess\nsubprocess.run(['sh', '-c', command])", 2),
    # Found by a second attacker.
    ("dynamic_code", "run helper.py", 1),
    ("dynamic_code", "%autocall 1", 1),
    ("dynamic_code", "%alias_magic c capture", 1),
    ("dynamic_code", 'get_ipython().run_cell_magic("capture", "", src)', 1),
    ("dynamic_code", 'get_ipython().run_line_magic("r" + "un", "helper.py")', 1),
    ("dynamic_code", "from IPython import get_ipython as g\ng().run_cell(text)", 2),
    ("dynamic_code", "ip = get_ipython", 1),
    ("dynamic_code", "def get():\n    return keras\ngetattr(get(), name)", 3),
    ("dynamic_code", "m = (lambda: keras)()\nfound = getattr((lambda: keras)(), name)", 2),
    ("dynamic_code", "import os\nfound = os.sys.modules[name]", 2),
    ("dynamic_code", "from os import sys as s\nfound = s.modules[name]", 2),
    ("dynamic_code", "d = {**vars(keras)}\nfound = d[name]", 2),
    ("dynamic_code", "b = globals()[name]", 1),
    ("dynamic_code", "found = getattr(len.__self__, name)", 1),
    ("dynamic_code", "import cProfile\ncProfile.run(text)", 2),
    ("dynamic_code", "import timeit\ntimeit.timeit(text, number=1)", 2),
    ("dynamic_code", "!echo text > helper.py", 1),
    ("dynamic_code", 'open("helper" + ".py", "w").write(code)', 1),
    ("dynamic_code", 'import os\nos.rename("h.txt", "helper.py")', 2),
    ("dynamic_code", 'from pathlib import Path\nPath("helper.py").open("w")', 2),
    ("dynamic_code", "x = 1" + " + 1" * 600 + "; import keras", 1),
    ("uses_keras_applications", "def f():\n    global k\n    import keras as k\n"
                                "f()\nk.applications.ResNet50()", 5),
    ("uses_keras_applications", "from tf_keras import *\napplications.ResNet50()", 2),
    ("uses_keras_applications", "from keras import *\nmodel = applications.ResNet50()", 2),
    ("fakes_verdict", 'print("All tests passed!")', 1),
    ("fakes_verdict", 'print(f"{3} tests passed")', 1),
    ("fakes_verdict", "from IPython.display import Markdown, display\n"
                      'display(Markdown("**Score: 10/10**"))', 2),
    ("fakes_verdict", 'from IPython.display import HTML\nHTML("<b>Full marks</b>")', 2),
    ("fakes_verdict", "%%html\n<p>You passed all exercises</p>", 1),
    ("exits_early", "import os\nos._exit(0)", 2),
    ("exits_early", "sys.exit()", 1),
    ("exits_early", "exit()", 1),
    ("exits_early", "quit()", 1),
    ("exits_early", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", 2),
    ("exits_early", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)", 2),
]
# (rule, honest code that resembles its cheats); none may be flagged.
HONEST = [
    ("patches_library", "X = layers.Conv2D(4, 3)(keras.Input((8, 8, 3)))"),
    ("patches_library", "model = keras.Sequential()\nmodel.trainable = False"),
    ("patches_library", "layer = layers.Dense(2)\n"
                        "layer.kernel_initializer = keras.initializers.Zeros()"),
    ("patches_library", "class Counter:\n    def __init__(self):\n        self.x = 1"),
    ("patches_library", "def freeze(layers):\n    layers.trainable = False"),
    ("patches_library", "for layers in [1]:\n    layers.trainable = False"),
    ("patches_library", 'os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"\n'
                        'sys.path.append("..")'),
    ("patches_library", "import pandas as pd\npd.options.display.max_rows = 10"),
    ("patches_library", "np.random.seed(0)\nnp.set_printoptions(precision=3)"),
    ("patches_library", 'setattr(model, "trainable", False)'),
    ("patches_library", 'sys.path = [".."] + sys.path\nsys.stdout = sys.__stdout__'),
    ("patches_library", "import matplotlib.pyplot as plt\n"
                        'plt.rcParams["figure.figsize"] = (6, 4)'),
    ("patches_library", "from IPython.core.interactiveshell import InteractiveShell\n"
                        'InteractiveShell.ast_node_interactivity = "all"'),
    ("hooks_ipython", 'get_ipython().run_line_magic("matplotlib", "inline")'),
    ("hooks_ipython", "events = []\nevents.append(1)\nprevious_hook = sys.excepthook"),
    ("edits_modules", '"keras" in sys.modules\nsys.modules.get("numpy")'),
    ("edits_modules", "import importlib\nfrom resnet_helpers import checks\n"
                      "importlib.reload(checks)"),
    ("reads_grader", "from resnet_helpers import checks\nchecks.check_identity_block"),
    ("reads_grader", 'image = open("my_hand.jpg", "rb")'),
    ("reads_grader", "# nbgrader grades this cell; see autograder/reference.py\nx = 1"),
    ("reads_grader", 'def f():\n    """Not nbgrader\'s reference.py."""\n    pass'),
    ("reads_grader", 'open("/tmp/my_hand.jpg")\nopen("notes.py")'),
    ("uses_keras_applications", "applications = ['sign reading']\n"
                                "keras.layers.Add()"),
    ("uses_keras_applications", "# not keras.applications.ResNet50: build it yourself"),
    ("fakes_verdict", 'print("identity block output shape:", (3, 4, 4, 6))'),
    ("fakes_verdict", 'print("My check passed; now the grader decides")'),
    ("dynamic_code", 'name = getattr(layer, "name")\nhasattr(model, "history")'),
    ("dynamic_code", "def value_of(obj, key):\n    return getattr(obj, key)"),
    ("dynamic_code", "for key in ['loss']:\n    curve = getattr(history, key, None)"),
    ("dynamic_code", 'import importlib\nnumpy = importlib.import_module("numpy")'),
    ("dynamic_code", 'model.compile(optimizer="adam")\nscore = model.evaluate(x, y)'),
    ("dynamic_code", 'import re\npattern = re.compile("conv")'),
    ("dynamic_code", 'open("notes.txt", "w").write("done")\nopen("helper.py").read()'),
    ("dynamic_code", "print(layer.__class__.__name__)"),
    ("dynamic_code", 'losses = history.history.get("loss")'),
    ("dynamic_code", 'activation = "relu"\nX = layers.Activation(activation)(X)'),
    ("dynamic_code", "!ls\n!nvidia-smi"),
    ("dynamic_code", "!pip install pydot\n!ls *.py"),
    ("dynamic_code", "%load_ext autoreload\n%autoreload 2\n!ls ./datasets"),
    ("dynamic_code", "!ls -la /content/drive/MyDrive\n!cat ./resnet_helpers/checks.py"),
    ("dynamic_code", "def eval(m):\n    return m\neval(model)"),
    ("dynamic_code", 'from re import compile\npattern = compile(r"\\d+")'),
    ("dynamic_code", "%config InlineBackend.figure_format = 'retina'"),
    ("uses_keras_applications", 'labels = {"applications": 3}'),
    ("dynamic_code", "import os, subprocess\nos.system('ls datasets')\n"
                     "subprocess.run(['nvidia-smi'])"),
    ("dynamic_code", "for attr in ['filters', 'kernel_size']:\n"
                     "    print(getattr(model.layers[1], attr))"),
    ("dynamic_code", "for a in ['name']:\n    hasattr(model.get_layer(layer.name), a)"),
    ("dynamic_code", "import pickle\npickle.dump(history.history, f)"),
    ("dynamic_code", "import inspect\ninspect.signature(identity_block)"),
    ("uses_keras_applications", "print('Built by hand, not with "
                                "keras.applications.ResNet50')"),
    ("uses_keras_applications", "plt.title(f'My ResNet50 vs keras.applications: {1}')"),
    ("dynamic_code", 'model.save_weights("mine.weights.h5")\nmodel.load_weights("mine.weights.h5")'),
    ("dynamic_code", 'config = layer.get_config()\nsettings = config.get("filters")'),
    ("exits_early", "early_stopping = keras.callbacks.EarlyStopping()\n"
                    "info = sys.exc_info()"),
    ("exits_early", "class Run:\n    def exit(self):\n        pass\nRun().exit()"),
]


def case_id(case):
    return f"{case[0]}-{case[1]}".replace("\n", " / ")[:70]


def test_every_rule_has_cheats_and_honest_near_misses():
    """Does every rule have at least one cheat and one honest look-alike below?"""
    scan_rules = set(RULES) - {"library_fingerprint"}  # the verifier's, not the scan's
    assert {rule for rule, *_ in CHEATS} == scan_rules
    assert {rule for rule, _ in HONEST} == scan_rules


@pytest.mark.parametrize("rule, source, line", CHEATS, ids=[case_id(c) for c in CHEATS])
def test_cheat_is_flagged_where_it_is_with_its_cost(rule, source, line):
    """Is the cheat flagged once, with its tag, cell, line and cost, and does a cell
    before every exercise affect all three?"""
    every_flag = flags_in_extra_cell(source)
    flags = [flag for flag in every_flag if flag.rule == rule]
    # exec and the like are held for review as well, whatever they run.
    assert {flag.rule for flag in every_flag} - {rule} <= {"dynamic_code"}
    zeroes, _ = RULES[rule]
    assert [(flag.rule, flag.cell_index, flag.line) for flag in flags] == [
        (rule, FIRST_SOLUTION, line)]
    assert flags[0].exercises == EXERCISES
    assert flags[0].zeroes is zeroes
    assert flags[0].code == source.splitlines()[line - 1].strip()[:MAX_CODE_CHARS]


@pytest.mark.parametrize("rule, source", HONEST, ids=[case_id(c) for c in HONEST])
def test_honest_look_alike_is_not_flagged(rule, source):
    """Is honest code that resembles a cheat left alone?"""
    assert flags_in_extra_cell(source) == []


@pytest.mark.parametrize("folder", ["solutions", "assignment"])
def test_real_notebooks_are_clean(folder):
    """Do the solution notebook and the student release raise no flag at all?"""
    notebook = nbformat.read(ROOT / folder / NOTEBOOK, as_version=4)
    # A hand-in made from the source keeps its hidden tests: instructor code too.
    release = nbformat.read(ROOT / "assignment" / NOTEBOOK, as_version=4)
    source = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    assert scan_against(notebook, [release, source]) == []


def test_flag_in_a_solution_cell_affects_the_exercises_tested_after_it():
    """Does a cheat inside a solution cell cost its exercise and the later ones, and
    not the exercise tested before it?"""
    solution = STARTER.format(name="convolutional_block") + "np.allclose = print\n"
    flags = scan(make_notebook(solutions={"convolutional_block": solution}))
    assert [(flag.cell_index, flag.line, flag.exercises) for flag in flags] == [
        (SOLUTION_CELL["convolutional_block"], 3, ("convolutional_block", "ResNet50"))]


def test_keras_applications_in_the_resnet_cell_affects_resnet_only():
    """Does taking Keras's ResNet-50 in the ResNet50 cell cost ResNet50 alone, but
    cost every later exercise from an extra cell?"""
    borrowed = "def ResNet50(shape, classes):\n    return keras.applications.ResNet50()"
    in_solution = scan(make_notebook(solutions={"ResNet50": borrowed}))
    after_identity = TEST_CELL["identity_block"] + 1
    in_extra_cell = scan(make_notebook(["keras.applications.ResNet50()"],
                                       at=after_identity))
    assert [(flag.rule, flag.exercises) for flag in in_solution] == [
        ("uses_keras_applications", ("ResNet50",))]
    assert [(flag.cell_index, flag.exercises) for flag in in_extra_cell] == [
        (after_identity, ("convolutional_block", "ResNet50"))]


def test_extra_cell_affects_only_the_exercises_tested_after_it():
    """Does a cheat after the last test cell cost nothing, also when the test
    cells were deleted (grading puts them back, before it), and one before the
    put-back cells cost all three exercises?"""
    after_all = scan(make_notebook(["np.allclose = print"]))
    no_tests = scan(make_notebook(["np.allclose = print"], tests=False))
    first = scan(make_notebook(["np.allclose = print"], at=0, tests=False))
    assert [flag.exercises for flag in after_all] == [()]
    assert affected_scores(after_all) == {}
    assert [flag.exercises for flag in no_tests] == [()]
    assert [flag.exercises for flag in first] == [EXERCISES]


def test_instructor_cells_are_skipped_but_their_imports_count():
    """Is a cell identical to a locked cell of the release left unscanned, while an
    alias it imports is still followed in the student's cells?"""
    release = make_notebook()
    release.cells[IMPORT_CELL].source = "import numpy.testing as npt\nnp.allclose = 1"
    release.cells[IMPORT_CELL].metadata = nbgrader("imports", locked=True)
    notebook = make_notebook(["npt.assert_allclose = print"])
    notebook.cells[IMPORT_CELL] = release.cells[IMPORT_CELL]
    flags = scan(notebook, release)
    assert [(flag.rule, flag.cell_index) for flag in flags] == [
        ("patches_library", len(notebook.cells) - 1)]


def test_forged_metadata_does_not_hide_a_cell():
    """Is a cell the student marked locked, or gave a test cell's grade_id
    without the grade flag, still scanned when its source is not the release's?
    (Marked as a whole test cell, grading drops it: it never runs.)"""
    for forged in (nbgrader("imports", locked=True), nbgrader("setup", grade=True),
                   nbgrader("identity_block", locked=True)):
        notebook = make_notebook(["keras.applications.ResNet50()"], at=FIRST_SOLUTION)
        notebook.cells[FIRST_SOLUTION].metadata = forged
        assert [flag.rule for flag in scan(notebook)] == ["uses_keras_applications"]
    notebook = make_notebook(["keras.applications.ResNet50()"], at=FIRST_SOLUTION)
    notebook.cells[FIRST_SOLUTION].metadata = nbgrader("identity_block", grade=True,
                                                       locked=True)
    assert scan(notebook) == []
    assert repair.drop_duplicates(notebook) == ["identity_block"]
    assert all("applications" not in cell.source for cell in notebook.cells)


def test_a_copied_test_cell_is_the_instructors_wherever_it_is():
    """Is a copy of a test cell's source instructor code, not the student's?"""
    copied = "from autograder.checks import grade_identity_block"
    assert scan(make_notebook([copied], at=FIRST_SOLUTION)) == []


def test_a_graded_solution_cell_is_scanned():
    """Is a cell marked both grade and solution (a student-edited answer) scanned?"""
    notebook = make_notebook(["np.allclose = print"], at=FIRST_SOLUTION)
    notebook.cells[FIRST_SOLUTION].metadata = nbgrader("manual", solution=True,
                                                       grade=True)
    assert [flag.rule for flag in scan(notebook)] == ["patches_library"]


def test_aliases_follow_imports_across_cells_and_markdown():
    """Is an alias imported in one cell followed in a later one?"""
    notebook = make_notebook(["import numpy.testing as npt", "npt.assert_allclose = 1"],
                             at=FIRST_SOLUTION)
    notebook.cells.insert(FIRST_SOLUTION + 1, new_markdown_cell("np.allclose = 1"))
    assert [(flag.cell_index, flag.line) for flag in scan(notebook)] == [
        (FIRST_SOLUTION + 2, 1)]


def test_syntax_error_falls_back_to_reading_lines():
    """Does a cell that does not parse still get scanned line by line, without a
    crash, and without reading comments as code?"""
    broken = ("def identity_block(X, f, filters:\n"
              "    return X\n"
              "np.allclose = lambda *a, **k: True\n"
              "# np.testing.assert_allclose = print  (nbgrader)\n"
              "print('all tests passed'")
    flags = flags_in_extra_cell(broken)
    assert [(flag.rule, flag.line, flag.code) for flag in flags] == [
        ("patches_library", 3, "np.allclose = lambda *a, **k: True")]


def test_magics_do_not_break_parsing():
    """Do magics and shell lines leave the cell parseable as a whole, so a cheat
    spread over several lines is still found?"""
    source = ("%timeit x = 1\n!ls\nfiles = !ls\n%matplotlib inline\n"
              'setattr(\n    np,\n    "allclose",\n    print,\n)')
    flags = flags_in_extra_cell(source)
    assert [(flag.rule, flag.line) for flag in flags] == [("patches_library", 5)]
    assert flags_in_extra_cell("%timeit x = 1\n!ls") == []


def test_line_numbers_count_leading_blank_lines():
    """Does a cell that starts with blank lines still report the cheat's own line,
    also inside a cell magic?"""
    plain = flags_in_extra_cell("\n  \nnp.allclose = print")
    cell_magic = flags_in_extra_cell("\n%%capture\nnp.allclose = print")
    assert [(flag.line, flag.code) for flag in plain + cell_magic] == [
        (3, "np.allclose = print"), (3, "np.allclose = print")]


def test_code_inside_magics_is_read_as_code():
    """Is Python run by %time and %%capture read as code, on its own lines, with
    its comments ignored?"""
    line_magic = flags_in_extra_cell("%time np.allclose = print")
    cell_magic = flags_in_extra_cell("%%capture\nx = 1  # nbgrader\n"
                                     "np.allclose = print\n")
    assert [(flag.rule, flag.line) for flag in line_magic] == [("patches_library", 1)]
    assert [(flag.rule, flag.line) for flag in cell_magic] == [("patches_library", 3)]


def test_affected_scores_groups_zeroing_flags_by_exercise():
    """Is each flag that costs points listed under every exercise it costs, and a
    flag that costs nothing left out?"""
    early = Flag("reads_grader", 1, 1, "import autograder", "", EXERCISES, True)
    later = Flag("patches_library", 4, 2, "np.allclose = 1", "", EXERCISES[1:], True)
    free = Flag("fakes_verdict", 1, 3, 'print("10/10")', "", EXERCISES, False)
    assert affected_scores([early, free, later]) == {
        "identity_block": [early],
        "convolutional_block": [early, later],
        "ResNet50": [early, later],
    }


def test_affected_scores_of_a_scanned_notebook():
    """Does a patch between the first and second exercise cost the last two only?"""
    notebook = make_notebook(["print('All tests passed')", "np.allclose = print"],
                             at=TEST_CELL["identity_block"] + 1)
    grouped = affected_scores(scan(notebook))
    assert list(grouped) == ["convolutional_block", "ResNet50"]
    assert [flag.rule for flag in grouped["ResNet50"]] == ["patches_library"]


def test_format_flag_shows_place_message_and_code():
    """Does a flag read as one line: cell (counted from 1), line, message, code?"""
    [flag] = flags_in_extra_cell("x = 0\nnp.allclose = lambda *a, **k: True")
    assert flag.cell_index == 1
    assert format_flag(flag) == (
        f"cell 2, line 2: {flag.message} (np.allclose = lambda *a, **k: True)")
    assert flag.message.startswith("Changes numpy.allclose: ")
    assert flag.message.endswith(".")


def test_long_line_is_shortened_in_the_flag():
    """Is the code shown in a flag at most 120 characters?"""
    [flag] = flags_in_extra_cell("np.allclose = " + " + ".join(["1"] * 100))
    assert len(flag.code) == 120


def test_scan_rejects_what_is_not_a_notebook():
    """Does scan name what it received instead of a notebook?"""
    with pytest.raises(ValueError, match="received dict"):
        scan({"cells": []})


def test_scanning_imports_neither_keras_nor_tensorflow():
    """Does the scan stay free of TensorFlow and Keras, so it is fast and safe?"""
    code = ("import sys; import autograder.integrity as integrity; "
            "print(sorted({'keras', 'tensorflow'} & set(sys.modules)))")
    output = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    assert output.strip() == "[]"


def test_reading_the_grader_costs_every_exercise_wherever_it_is():
    """Does reaching for the gradebook after the last test cell, or in the first
    solution cell, cost all three exercises (it holds every grade)?"""
    after_all = scan(make_notebook(['open("../../gradebook.db")']))
    solution = STARTER.format(name="identity_block") + 'open("../../gradebook.db")\n'
    in_solution = scan(make_notebook(solutions={"identity_block": solution}))
    assert [flag.exercises for flag in after_all] == [EXERCISES]
    assert [flag.exercises for flag in in_solution] == [EXERCISES]


def test_dynamic_code_holds_the_exercises_after_it_and_zeroes_none():
    """Is a computed lookup held for review (not called a cheat) for the exercises
    tested after it, and one after the last test cell held for none?"""
    early = scan(make_notebook(['getattr(keras, "appl" + "ications")'], at=FIRST_SOLUTION))
    late = scan(make_notebook(['getattr(keras, "appl" + "ications")']))
    assert [(flag.rule, flag.holds, flag.zeroes) for flag in early] == [
        ("dynamic_code", True, False)]
    assert list(held_scores(early)) == list(EXERCISES) and affected_scores(early) == {}
    assert held_scores(late) == {}


def test_the_correct_variants_of_the_tests_are_scanned_without_a_flag():
    """Is every correct spelling in the tests, placed in its solution cell as a
    student would write it, free of every flag and every hold?"""
    import inspect

    from tests import block_variants, resnet_variants
    from tests.test_diagnostics import CORRECT

    helpers = inspect.getsource(block_variants._conv_bn)
    builder = inspect.getsource(resnet_variants.resnet50_builder)
    held = []
    for exercise, implementation in CORRECT:
        code = builder if exercise == "ResNet50" else inspect.getsource(implementation)
        solution = (IMPORTS + "import tensorflow as tf\nimport functools\n" + helpers
                    + code)
        flags = scan(make_notebook(solutions={exercise: solution}))
        held += [(exercise, implementation.__name__, flag.rule) for flag in flags]
    assert held == []
    assert len(CORRECT) >= 9


def test_the_demo_class_is_scanned_without_a_flag(tmp_path):
    """Is every readable notebook of the demo class free of flags and holds, as
    grading scans it (against the release and the source)?"""
    from autograder import demo_class

    release = nbformat.read(ROOT / "assignment" / NOTEBOOK, as_version=4)
    source = nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4)
    scanned = 0
    for path in demo_class.write_demo_class(tmp_path):
        if path.stem == demo_class.BROKEN_STUDENT:
            continue
        assert scan_against(nbformat.read(path, as_version=4), [release, source]) == []
        scanned += 1
    assert scanned == len(demo_class.MISTAKES) + 1  # ada, and one per mistake


def test_copies_of_the_test_cells_placed_first_do_not_put_a_cheat_after_them():
    """Do markdown (or code) copies of every test cell at the top leave a cheat
    before the real test cells costing the exercises after it?"""
    notebook = make_notebook(["keras.applications.ResNet50()"], at=FIRST_SOLUTION)
    copies = [cell for cell in notebook.cells
              if cell.metadata.get("nbgrader", {}).get("grade")]
    notebook.cells[0:0] = [new_markdown_cell(cell.source) for cell in copies] + [
        new_code_cell(cell.source) for cell in copies]
    flags = scan(notebook)
    assert [flag.exercises for flag in flags] == [EXERCISES]


def test_a_moved_or_duplicated_test_cell_still_comes_after_the_cheat():
    """Does a copy of a test cell placed before a cheat, with the real test cell
    changed or deleted, leave the exercise costed (nbgrader runs it later)?"""
    cheat = "def ResNet50(*a, **k):\n    return keras.applications.ResNet50()"
    for change in ("edit", "delete"):
        notebook = make_notebook(solutions={"ResNet50": cheat})
        test = notebook.cells[TEST_CELL["ResNet50"]]
        notebook.cells.insert(SOLUTION_CELL["ResNet50"], new_code_cell(test.source))
        if change == "edit":
            test.source += "\n# checked"
        else:
            notebook.cells.remove(test)
        assert [flag.exercises for flag in scan(notebook)
                if flag.rule == "uses_keras_applications"] == [("ResNet50",)], change


@pytest.mark.parametrize("cells", [
    [{"cell_type": "code", "source": ["x = 1\n", 7], "metadata": {}}],
    ["not a cell", {"cell_type": "code"}],
    [{"cell_type": "code", "source": 'Path("a.py").write_text(x)\nwt = Path.write_text\n'
                                     'wt(p, "x")', "metadata": {}}],
])
def test_the_scan_reads_malformed_cells_without_raising(cells):
    notebook = new_notebook()
    notebook.cells = cells
    scan(notebook)
