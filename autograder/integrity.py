"""Find cheat attempts in a submitted notebook by reading its code, never running it.

Grading runs the notebook in a sandbox and verifies the exercises outside it,
so most tricks cannot change a score. They still deserve a name in the
instructor's report, and an attempt on an exercise earns that exercise 0.
``scan`` reads every cell of the hand-in with Python's ``ast`` (IPython
syntax is turned into Python first), follows import aliases from cell to cell,
and returns one ``Flag`` per finding. A cell that does not parse is read line
by line with the same rules, so a syntax error cannot hide the rest of a cell.

Nothing a student can edit is trusted: a cell is the instructor's, and
skipped, only when its source is the source of a locked or test cell of
the release; its metadata (``locked``, ``grade``, ``grade_id``) is never
read. Which exercises a finding costs follows from where it is: every
exercise whose test cell (found by its source) comes later.

Code the scan cannot follow (a module named at run time, ``getattr`` with
a computed name, ``exec``, ``sys.modules`` read by a computed key...) is
not called a cheat: it is held for an instructor to read (``holds``).

Each rule has a stable tag, so reports can count attempts across a class.
Nothing here imports TensorFlow or Keras, or the student's code.
"""

import ast
import copy
import dataclasses
import re
import warnings
from collections import ChainMap

from IPython.core.inputtransformer2 import TransformerManager

from autograder import repair

EXERCISES = ("identity_block", "convolutional_block", "ResNet50")
SOLUTION_SUFFIX = "_solution"  # an exercise's solution cell is "<exercise>_solution"
MAX_CODE_CHARS = 120

# Tag -> (does the affected exercise get 0?, why the finding is not allowed).
# A message reads "<what was found>: <why>."; tags never change once released.
RULES = {
    "patches_library": (True, "the checks rely on libraries as they ship, and a "
                        "replaced function could let a wrong answer pass"),
    "hooks_ipython": (True, "changing how IPython runs cells or reports errors could "
                      "hide a failing check"),
    "edits_modules": (True, "swapping the modules Python imports could make the "
                      "checks run against a fake library"),
    "reads_grader": (True, "the grader, the reference solution and the gradebook are "
                     "not for students to read"),
    "uses_keras_applications": (True, "the exercise is to build ResNet-50 yourself, "
                                "not to take Keras's ready-made one"),
    "fakes_verdict": (False, "only the grader's report gives a verdict (this costs no "
                      "points; the instructor sees it)"),
    "exits_early": (False, "stopping the kernel or trapping its signals can leave "
                    "later cells unrun; the grader carries on (this costs no points; "
                    "the instructor sees it)"),
    "dynamic_code": (False, "code built or looked up while it runs can reach a library "
                     "or the grader in ways a reading cannot follow, so an instructor "
                     "reads it before the points count"),
}
RULES["library_fingerprint"] = (
    False, "the saved model carries a configuration that keras.applications sets and "
    "the assignment does not, so an instructor reads the code before the points count")
# Rules whose finding holds the affected exercises at 0, status "review",
# until an instructor accepts them (`python -m autograder accept`).
REVIEW_RULES = {"dynamic_code", "library_fingerprint"}
# Names a notebook uses for modules even when the import is in an instructor cell.
DEFAULT_MODULES = {"np": "numpy", "numpy": "numpy", "tf": "tensorflow",
                   "tensorflow": "tensorflow", "keras": "keras", "builtins": "builtins",
                   "__builtins__": "builtins", "sys": "sys", "os": "os",
                   "IPython": "IPython"}
IMPORTERS = {"__import__", "import_module"}  # __import__("numpy") is numpy too

# patches_library: writes to a module that honest notebooks make anyway (search
# paths, the environment, output streams, display settings such as pd.options...).
HONEST_WRITES = {"sys.path", "sys.argv", "sys.stdout", "sys.stderr", "os.environ"}
DISPLAY_SETTINGS = {"options", "rcParams", "ast_node_interactivity"}
# hooks_ipython: any use of HOOK_NAMES; assigning HOOK_WRITES (reading is harmless).
HOOK_NAMES = {"set_custom_exc", "input_transformers_cleanup",
              "input_transformers_post", "input_transformer_manager",
              "ast_transformers", "register_magic_function", "register_magics",
              "settrace", "setprofile"}
EVENT_HOOKS = {"register", "unregister", "callbacks"}  # of get_ipython().events
HOOK_WRITES = HOOK_NAMES | {"showtraceback", "_showtraceback", "showsyntaxerror",
                            "excepthook", "displayhook", "custom_exceptions",
                            "run_cell", "run_cell_async", "run_code", "run_ast_nodes"}
HOOK_CALLS = {"atexit.register"}
# edits_modules: reading sys.modules, and sys.path in any form, are left alone.
MODULE_TABLE_WRITES = {"update", "pop", "popitem", "clear", "setdefault",
                       "__setitem__", "__delitem__"}
RELOAD_CALLS = {"importlib.reload", "imp.reload"}
RELOAD_GUARDED = {"numpy", "keras", "tensorflow"}
# reads_grader
GRADER_MODULES = {"autograder", "nbgrader", "solutions", "reference"}
GRADER_WORDS = ("gradebook", "autograder", "nbgrader", "solutions/", "reference.py")
OPENERS = {"open", "Path", "PurePath", "PosixPath"}
GRADER_FILE_SUFFIXES = (".ipynb", ".db", ".py")
# uses_keras_applications: also a module named in a string (import_module),
# and Keras' own residual-block functions, however they are reached.
# A string that is a module path or a name (not one that mentions them in a sentence).
APPLICATIONS_TEXT = re.compile(r"\s*(((keras|tensorflow|tf_keras)(\.[\w.]*)?)?\.applications"
                               r"(\.[\w.]*)?|applications\.[\w.]+|(residual_block|"
                               r"stack_residual_blocks)_v[12])\s*")
KERAS_BLOCK_FUNCTION = re.compile(r"^(residual_block|stack_residual_blocks)_v[12]$")
# dynamic_code: what runs or reaches code the scan cannot read.
EVALUATORS_HELD = {"exec", "eval", "compile"}
LOOKUPS = {"getattr", "setattr", "delattr", "hasattr"}
FIRST_CLASS = LOOKUPS | EVALUATORS_HELD | {"__import__", "import_module", "vars",
                                           "globals", "attrgetter", "methodcaller",
                                           "get_ipython"}
DYNAMIC_MODULES = {"runpy", "imp", "pkgutil", "ctypes", "code", "codeop", "zipimport",
                   "gc"}
DYNAMIC_PREFIXES = ("importlib.util", "importlib.machinery", "importlib.__import__",
                    "inspect.currentframe", "inspect.stack", "inspect.getmembers",
                    "inspect.getmodule", "inspect.getouterframes", "inspect.getattr_static",
                    "inspect.trace", "sys._getframe", "keras.src.api_export",
                    "types.FunctionType", "types.CodeType", "types.ModuleType",
                    "operator.attrgetter", "operator.methodcaller", "builtins.")
# Code that runs outside what the scan reads: another interpreter, a shell
# that starts one, or a model loaded from a file or a config instead of built.
PROCESS_CALLS = {"os.system", "os.popen", "os.execv", "os.execvp", "os.execl",
                 "os.spawnv", "os.spawnl", "os.posix_spawn", "pty.spawn"}
SHELL_MAGICS = {"bash", "sh", "script", "python", "python3", "perl", "ruby", "system",
                "pypy", "pypy3"}
# A shell command that runs code rather than a program with fixed behaviour.
SHELL_PYTHON = re.compile(r"\b(python[0-9.]*|ipython|jupyter|pypy[0-9]*|perl|ruby|node|"
                          r"sh|bash|dash|zsh|env|exec|eval|source)\b|(^|[;&|(])\s*\.{0,2}/|`|"
                          r"\$\(|(>|\btee\b|\bcp\b|\bmv\b|\bln\b|\bcurl\b|\bwget\b).*\.py\b")
MODEL_LOADERS = {"load_model", "model_from_json", "model_from_config",
                 "deserialize_keras_object", "from_config", "load_module", "deserialize",
                 "TFSMLayer", "get_registered_object"}
TABLE_METHODS = {"get", "values", "items", "keys", "copy", "pop", "setdefault",
                 "__getitem__"}
# Line magics IPython runs without the % in a one-line cell; those that run
# or alias code the scan cannot read are held.
AUTOMAGICS = {"run", "load_ext", "reload_ext", "sx", "system", "alias", "alias_magic",
              "autocall", "automagic", "macro", "rerun", "recall", "edit", "load",
              "loadpy", "store", "config", "time", "timeit", "prun", "capture"}
HELD_MAGICS = AUTOMAGICS - {"time", "timeit", "prun", "capture", "system", "sx", "config",
                            "load_ext", "reload_ext"}
SAFE_EXTENSIONS = {"autoreload", "tensorboard", "line_profiler", "memory_profiler",
                   "watermark"}
CODE_RUNNERS = {"cProfile.run", "cProfile.runctx", "profile.run", "profile.runctx",
                "timeit.timeit", "timeit.repeat", "timeit.Timer", "pdb.run", "pdb.runeval",
                "pdb.runcall", "trace.Trace", "doctest.run_docstring_examples",
                "doctest.testmod", "doctest.testfile"}
FILE_MOVERS = {"os.rename", "os.replace", "os.link", "os.symlink", "shutil.copy",
               "shutil.copyfile", "shutil.copy2", "shutil.move", "pathlib.Path.rename"}
RUNNERS = {"run_cell", "run_cell_async", "ex", "ev", "run_code", "run_source",
           "safe_execfile", "safe_execfile_ipy", "safe_run_module", "run_ast_nodes",
           "transform_cell", "push"}
UNPICKLERS = {"pickle.load", "pickle.loads", "pickle.Unpickler", "dill.load",
              "dill.loads", "cloudpickle.load", "cloudpickle.loads", "marshal.loads",
              "marshal.load", "shelve.open", "joblib.load"}
DYNAMIC_ATTRIBUTES = {"__globals__", "__subclasses__", "__code__", "__closure__",
                      "__builtins__", "__getattribute__", "__getattr__", "__import__",
                      "__loader__",
                      "__spec__", "f_globals", "f_locals", "f_back", "f_builtins",
                      "gi_frame", "cr_frame", "tb_frame", "__reduce__", "__reduce_ex__",
                      "__self__"}
# fakes_verdict
DISPLAY_CALLS = {"print", "display", "Markdown", "HTML", "display_markdown",
                 "display_html", "system"}  # system: `!echo ...` and os.system
DISPLAY_MAGICS = {"html", "markdown", "latex"}
VERDICT = re.compile(r"tests? passed|passed all|full marks|score:\s*10\b|\b10/10\b",
                     re.IGNORECASE)
# exits_early
EXIT_CALLS = {"os._exit", "sys.exit", "os.kill", "os.killpg", "os.abort",
              "signal.signal"}
EXIT_NAMES = {"exit", "quit"}

# Code held in a string is read as code: the argument of exec and eval, and of
# magics that run Python in the notebook (writefile: a module it may import next).
EVALUATORS = {"exec", "eval"}
PYTHON_MAGICS = {"time", "timeit", "prun", "capture", "debug", "writefile", "file"}
MAGIC_OPTIONS = re.compile(r"^(?:-\w+\s+(?:\d+\s+)?)+")  # %timeit -n 1 -r 1 ...
# What Python's parser raises for code it cannot read (deep nesting, null bytes).
UNREADABLE = (SyntaxError, ValueError, RecursionError)
_TRANSFORMER = TransformerManager()


@dataclasses.dataclass(frozen=True)
class Flag:
    """One finding: where it is, what it is, and which exercises it costs."""

    rule: str  # a tag of RULES
    cell_index: int
    line: int  # 1-based within the cell; 0 if unknown
    code: str  # the offending line, stripped and shortened
    message: str
    exercises: tuple  # names from EXERCISES
    zeroes: bool  # whether `exercises` get 0 points
    holds: bool = False  # whether `exercises` are held at 0 for an instructor's review


def scan(notebook, instructor_notebooks=()):
    """Finds cheat attempts in the cells of a notebook that are not the instructor's.

    Args:
        notebook: an nbformat NotebookNode, version 4: the hand-in.
        instructor_notebooks: the student release it was made from, and the
            source notebook; their locked and test cells are the instructor's
            (a hand-in made from the source keeps the hidden tests). Empty:
            every cell is scanned.

    Returns:
        A list of Flag in reading order, at most one per rule and line.

    Raises:
        ValueError: `notebook` is not a version 4 notebook.
    """
    if getattr(notebook, "nbformat", None) != 4 or not hasattr(notebook, "cells"):
        raise ValueError(f"notebook must be an nbformat version 4 NotebookNode, "
                         f"received {type(notebook).__name__} {str(notebook)[:80]!r}")
    instructor, tests, locked = instructor_sources(instructor_notebooks)
    # What nbgrader will run: the hand-in repaired as grading repairs it, each
    # cell remembering where it was handed in (flags name that place).
    notebook = _as_graded(notebook, instructor_notebooks)
    sources = [_source(cell) for cell in notebook.cells]  # stripped, to compare
    # A test cell is the last code cell with its source (copies placed early
    # must not make a cheat come "after" it); a deleted one counts as last.
    test_cells = {exercise: _test_position(notebook.cells, sources, exercise, versions)
                  for exercise, versions in tests.items()}
    aliases = dict(DEFAULT_MODULES)  # shared by all cells: imports carry over
    containers = set()
    flags = {}
    for index, cell in enumerate(notebook.cells):
        if not _is_code(cell):
            continue
        source = _source(cell, stripped=False)
        findings = _Reader(aliases, containers).read(source)  # instructor imports count
        # The instructor's code, or a cell nbgrader overwrites with it (it carries
        # a locked cell's grade_id after the repair): never run as written.
        if sources[index] in instructor or _grade_id_of(cell) in locked:
            continue
        lines = source.splitlines()
        exercises = tuple(exercise for exercise in EXERCISES
                          if test_cells.get(exercise, len(sources)) > index)
        for rule, line, what in findings:
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            zeroes, reason = RULES[rule]
            reach = EXERCISES if rule == "reads_grader" else exercises
            place = cell.get("_handed_in_at", index)
            flags.setdefault((place, line, rule), Flag(
                rule, place, line, code[:MAX_CODE_CHARS], f"{what}: {reason}.",
                reach, zeroes, rule in REVIEW_RULES))
    return [flags[key] for key in sorted(flags)]


def _test_position(cells, sources, exercise, versions):
    """Where an exercise's test runs, as late as anything could place it.

    nbgrader runs the test where a cell carries its grade_id (its source is
    put back), and the grader puts a deleted one back after the cells before
    it; a copy of its source runs where it is. A finding counts against
    every test that may run after it, so the latest of these wins, and a
    test with no cell carrying its grade_id counts as last.
    """
    carriers = [index for index, cell in enumerate(cells) if _grade_id_of(cell) == exercise]
    if not carriers:  # not even put back: nothing to place it by
        return len(cells)
    copies = [index for index, source in enumerate(sources)
              if source in versions and _is_code(cells[index])]
    return max(carriers + copies)


def _grade_id_of(cell):
    metadata = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbgrader = metadata.get("nbgrader", {}) if isinstance(metadata, dict) else {}
    return nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None


def _is_code(cell):
    return isinstance(cell, dict) and cell.get("cell_type") == "code"


def instructor_sources(notebooks):
    """(the sources of the locked and test cells, exercise -> its test cell's
    sources, the grade_ids of locked cells). These are the grader's own files,
    so their metadata counts."""
    instructor, tests, locked = set(), {}, set()
    for notebook in notebooks:
        for cell in notebook.cells:
            nbgrader = cell.metadata.get("nbgrader", {})
            is_test = bool(nbgrader.get("grade")) and not nbgrader.get("solution")
            if nbgrader.get("locked") or is_test:
                instructor.add(_source(cell))
            if nbgrader.get("locked") and nbgrader.get("grade_id"):
                locked.add(nbgrader["grade_id"])
            if is_test and nbgrader.get("grade_id") in EXERCISES:
                tests.setdefault(nbgrader["grade_id"], set()).add(_source(cell))
    return instructor, tests, locked


def _as_graded(notebook, instructor_notebooks):
    """A copy of the hand-in as grading repairs it before nbgrader runs it
    (repair.py): made-up metadata dropped, duplicates dropped, deleted test
    cells put back. Without an instructor notebook, or if the repair fails on
    a malformed cell, the hand-in as it is, with no cell's metadata kept."""
    handed_in = copy.deepcopy(notebook)
    for index, cell in enumerate(handed_in.cells):
        if isinstance(cell, dict):
            cell["_handed_in_at"] = index
    if instructor_notebooks:
        graded = copy.deepcopy(handed_in)
        try:
            source = instructor_notebooks[-1]
            repair.drop_foreign_metadata(graded, source)
            repair.drop_duplicates(graded)
            repair.restore_test_cells(graded, source)
            return graded
        except Exception:  # noqa: BLE001 - a malformed cell: trust no metadata at all
            pass
    for cell in handed_in.cells:
        if isinstance(cell, dict) and isinstance(cell.get("metadata"), dict):
            cell["metadata"].pop("nbgrader", None)
    return handed_in


def _source(cell, stripped=True):
    source = cell.get("source", "") if isinstance(cell, dict) else ""
    source = "".join(map(str, source)) if isinstance(source, list) else str(source)
    return source.strip() if stripped else source


def affected_scores(flags):
    """The exercises that get 0, each with the flags that cost it its points."""
    return _by_exercise(flag for flag in flags if flag.zeroes)


def held_scores(flags):
    """The exercises held for review, each with the flags that hold it."""
    return _by_exercise(flag for flag in flags if flag.holds)


def _by_exercise(flags):
    found = {}
    for flag in flags:
        for exercise in flag.exercises:
            found.setdefault(exercise, []).append(flag)
    return {exercise: found[exercise] for exercise in EXERCISES if exercise in found}


def model_finding(exercise, why):
    """A Flag for what the verifier found in an exercise's saved model (no cell)."""
    zeroes, reason = RULES["library_fingerprint"]
    return Flag("library_fingerprint", -1, 0, "", f"{why}: {reason}.", (exercise,),
                zeroes, True)


def unreadable_notebook(why):
    """A Flag for a notebook the scan itself could not read: every exercise held."""
    zeroes, reason = RULES["dynamic_code"]
    return Flag("dynamic_code", -1, 0, "", f"The scan could not read the notebook ({why}): "
                f"{reason}.", EXERCISES, zeroes, True)


def format_flag(flag):
    """One line for a report: where (cells counted from 1), what and why, then the code."""
    if flag.cell_index < 0 and flag.rule == "library_fingerprint":
        return f"{', '.join(flag.exercises)}'s saved model: {flag.message}"
    if flag.cell_index < 0:
        return flag.message
    return f"cell {flag.cell_index + 1}, line {flag.line}: {flag.message} ({flag.code})"


class _Reader(ast.NodeVisitor):
    """Walks one cell in order, following aliases and collecting findings."""

    def __init__(self, aliases, containers):
        self.scope = ChainMap(aliases)  # name -> dotted module path, or None
        self.offset = 0  # added to node line numbers (for code inside magics)
        self.findings = []  # (rule, line, what)
        self.called = set()  # ids of nodes in call position: getattr(...) is not a value
        self.containers = containers  # names of containers that hold a module

    def read(self, source, offset=0):
        """Reads a cell's source; a cell that does not parse is read line by line."""
        outer_offset, self.offset = self.offset, offset
        try:
            self.visit(_parse(_automagic(source)))
        except UNREADABLE:
            for number, line in enumerate(source.splitlines(), start=offset + 1):
                self.offset = number - 1
                text = line.strip()
                try:  # a block's header parses once it has a body
                    self.visit(_parse(text + " pass" if text.endswith(":") else text))
                except RecursionError:  # it runs, but is nested past reading: hold it
                    self.flag("dynamic_code", None, "Nests code too deeply to read")
                except UNREADABLE:
                    continue
        self.offset = outer_offset
        return self.findings

    def flag(self, rule, node, what):
        line = getattr(node, "lineno", 0) + self.offset if node is not None else self.offset + 1
        self.findings.append((rule, line, what))

    def qualified(self, node):
        """The dotted module path `node` stands for, or None if not a module's."""
        if isinstance(node, ast.Name):
            return self.scope.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return _canonical(f"{base}.{node.attr}") if base else None
        if isinstance(node, ast.Call) and (
                _callee(node) == "get_ipython" or self.name_of_call(node) == "get_ipython"):
            return "get_ipython()"
        if isinstance(node, ast.Call) and self.name_of_call(node) in IMPORTERS and node.args:
            name = _text(node.args[0])  # __import__("numpy") is numpy
            package = _text(node.args[1]) if len(node.args) > 1 else None
            if name and name.startswith(".") and package:  # import_module(".x", "keras")
                return package + name
            return name
        if isinstance(node, ast.IfExp):  # keras if True else None: either may be it
            return self.qualified(node.body) or self.qualified(node.orelse)
        if isinstance(node, ast.NamedExpr):
            return self.qualified(node.value)
        if isinstance(node, ast.Call) and _callee(node) == "getattr" and len(node.args) > 1:
            base, name = self.qualified(node.args[0]), _text(node.args[1])
            return f"{base}.{name}" if base and name else None  # getattr(np, "linalg")
        if isinstance(node, ast.Subscript):
            table = self.qualified(node.value) or self.vars_of(node.value)
            key = _text(node.slice)
            if table == "sys.modules":
                return key  # sys.modules["numpy"] is numpy too
            if table and key and table.endswith(".__dict__"):
                return f"{table.removesuffix('.__dict__')}.{key}"  # vars(np)["linalg"]
        return None

    def name_of_call(self, call):
        """What a call calls: the last part of its module path when it has one
        (im = importlib.import_module; im(...) is import_module), else its name."""
        qualified = self.qualified(call.func)
        return qualified.rsplit(".", 1)[-1] if qualified else _callee(call)

    def visit_NamedExpr(self, node):
        self.visit(node.value)
        self.bind(node.target, node.value)

    # Imports and names.
    def visit_Import(self, node):
        for alias in node.names:
            self.check_import(alias.name, node)
            bound = alias.asname or alias.name.split(".")[0]
            self.bind_module(bound, alias.name if alias.asname else bound)

    def bind_module(self, name, module):
        """A module bound in a function may be `global`: it counts outside too."""
        self.scope[name] = _canonical(module)
        if self.scope.maps[-1].get(name) is None:
            self.scope.maps[-1][name] = _canonical(module)

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        self.check_import(module, node)
        for alias in node.names:
            if alias.name == "*" and module.split(".")[0] in {"keras", "tensorflow",
                                                              "tf_keras"}:
                self.scope["applications"] = f"{module}.applications"  # star brings it
            if alias.name != "*":
                full = f"{module}.{alias.name}".lstrip(".")
                self.check_import(full, node)
                self.bind_module(alias.asname or alias.name, full)

    def check_import(self, module, node):
        parts = module.strip(".").split(".")
        if GRADER_MODULES.intersection(parts):
            self.flag("reads_grader", node, f"Imports {module}")
        if _is_applications(module.strip(".")):
            self.flag("uses_keras_applications", node, f"Imports {module}")
        if parts[0] in DYNAMIC_MODULES or module.startswith(DYNAMIC_PREFIXES):
            self.flag("dynamic_code", node, f"Imports {module}")

    def bind(self, target, value=None):
        """Records what a name now holds: a module path, or nothing we follow."""
        if isinstance(target, ast.Name):
            self.scope[target.id] = self.qualified(value) if value is not None else None
            if value is not None and self.holds_a_module(value):
                self.containers.add(target.id)  # mods = [keras]: mods[0] is keras
            else:
                self.containers.discard(target.id)
        elif isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for element in getattr(target, "elts", [getattr(target, "value", None)]):
                self.bind(element)

    # Writes.
    def visit_Assign(self, node):
        for target in node.targets:
            self.check_write(target, node)
        self.visit(node.value)
        for target in node.targets:
            self.bind(target, node.value)

    def visit_AugAssign(self, node):
        self.check_write(node.target, node)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self.check_write(node.target, node)
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target, node.value)

    def visit_Delete(self, node):
        for target in node.targets:
            self.check_write(target, node)

    def visit_For(self, node):
        self.visit(node.iter)
        self.check_write(node.target, node)
        self.bind(node.target)
        for statement in node.body + node.orelse:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node):
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self.check_write(node.optional_vars, node.context_expr)
            self.bind(node.optional_vars)

    def check_write(self, target, node):
        if isinstance(target, ast.Attribute):
            qualified = self.qualified(target)
            rule = _write_rule(qualified, target.attr)
            if rule:
                self.flag(rule, node, f"Changes {qualified or target.attr}")
        elif isinstance(target, ast.Subscript):
            table = self.qualified(target.value) or self.vars_of(target.value)
            if table == "sys.modules":
                self.flag("edits_modules", node, "Changes sys.modules")
            elif table and (table == "builtins" or table.endswith(".__dict__")):
                self.flag("patches_library", node, f"Changes {table}")
        elif isinstance(target, ast.Tuple | ast.List | ast.Starred):
            for element in getattr(target, "elts", [getattr(target, "value", None)]):
                self.check_write(element, node)

    def vars_of(self, node):
        """`vars(module)` is the module's __dict__."""
        if isinstance(node, ast.Call) and _callee(node) == "vars" and node.args:
            module = self.qualified(node.args[0])
            return f"{module}.__dict__" if module else None
        return None

    # Scopes: a function's parameters hide the notebook's modules of the same name.
    def visit_FunctionDef(self, node):
        for expression in node.decorator_list + node.args.defaults + [
                default for default in node.args.kw_defaults if default is not None]:
            self.visit(expression)
        self.scope[node.name] = None
        self.in_scope(_parameters(node.args), node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        self.in_scope(_parameters(node.args), [node.body])

    def visit_ClassDef(self, node):
        for expression in node.decorator_list + node.bases + node.keywords:
            self.visit(expression)
        self.scope[node.name] = None
        self.in_scope([], node.body)

    def in_scope(self, hidden_names, body):
        outer, self.scope = self.scope, self.scope.new_child(
            dict.fromkeys(hidden_names))
        for part in body:
            self.visit(part)
        self.scope = outer

    # Uses.
    def visit_Attribute(self, node):
        if node.attr in HOOK_NAMES or (node.attr in EVENT_HOOKS and getattr(
                node.value, "attr", None) == "events"):
            self.flag("hooks_ipython", node, f"Uses {node.attr}")
        if node.attr in DYNAMIC_ATTRIBUTES:
            self.flag("dynamic_code", node, f"Uses {node.attr}")
        if node.attr in MODEL_LOADERS and id(node) not in self.called and (
                self.qualified(node) or "").startswith(("keras", "tensorflow")):
            self.flag("dynamic_code", node, f"Passes {node.attr} around as a value")
        if KERAS_BLOCK_FUNCTION.match(node.attr) or node.attr == "applications":
            # Whatever holds it ([keras][0].applications): Keras' own models and blocks.
            self.flag("uses_keras_applications", node, f"Uses {node.attr}")
        self.check_reached(node)
        self.generic_visit(node)

    def check_reached(self, node):
        """Flags keras.applications, and anything under it, however it was reached."""
        qualified = self.qualified(node)
        if qualified and qualified.startswith("keras.src.") and not (
                self.qualified(_inner(node)) or "").startswith("keras.src."):
            self.flag("dynamic_code", node, f"Uses Keras' private modules ({qualified})")
        if qualified and _is_applications(qualified) and not _is_applications(
                self.qualified(_inner(node)) or ""):
            self.flag("uses_keras_applications", node, f"Uses {qualified}")
        if qualified and qualified.startswith(DYNAMIC_PREFIXES) and not (
                (self.qualified(_inner(node)) or "").startswith(DYNAMIC_PREFIXES)):
            self.flag("dynamic_code", node, f"Uses {qualified}")

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and _is_applications(self.scope.get(node.id) or ""):
            self.flag("uses_keras_applications", node, f"Uses {node.id}")
        if node.id in FIRST_CLASS and id(node) not in self.called and isinstance(
                node.ctx, ast.Load) and self.scope.get(node.id, "builtin") is not None:
            self.flag("dynamic_code", node, f"Passes {node.id} around as a value")
        if node.id in {"__builtins__", "__loader__", "__spec__"}:
            self.flag("dynamic_code", node, f"Uses {node.id}")

    def visit_Subscript(self, node):
        table = self.qualified(node.value) or self.vars_of(node.value)
        computed = _text(node.slice) is None and not isinstance(node.slice, ast.Constant)
        if table and computed and (table == "sys.modules" or table.endswith(".__dict__")):
            self.flag("dynamic_code", node, f"Reads {table} by a computed key")
        elif computed and (isinstance(node.value, ast.Name)
                           and node.value.id in self.containers):
            self.flag("dynamic_code", node, "Reads a table of modules by a computed key")
        elif _text(node.slice) is None and isinstance(node.value, ast.Call) and (
                _callee(node.value) in {"globals", "locals", "vars"}
                and not node.value.args):
            self.flag("dynamic_code", node, "Reads the notebook's names by a computed key")
        self.check_reached(node)
        self.generic_visit(node)

    def visit_Expr(self, node):
        # A string on its own line (a docstring, a note) is never used.
        if _text(node.value) is None:
            self.generic_visit(node)

    def visit_Constant(self, node):
        text = _text(node) or ""
        for word in GRADER_WORDS:
            if word in text.lower():
                self.flag("reads_grader", node, f"Mentions {word!r}")
        if APPLICATIONS_TEXT.fullmatch(text):
            self.flag("uses_keras_applications", node, "Names keras.applications")
        if text.strip() in DYNAMIC_ATTRIBUTES or text.strip() in {"__builtins__",
                                                                   "__import__"}:
            self.flag("dynamic_code", node, f"Names {text.strip()}")

    def visit_Call(self, node):
        qualified, callee = self.qualified(node.func), _callee(node)
        self.called.add(id(node.func))
        self.check_dynamic_call(node, qualified, callee)
        if callee in LOOKUPS | IMPORTERS:
            self.check_reached(node)
        if callee in {"setattr", "delattr"} and len(node.args) >= 2:
            self.check_setattr(node)
        if qualified in HOOK_CALLS:
            self.flag("hooks_ipython", node, f"Calls {qualified}")
        if self.check_module_table(node, qualified):
            self.flag("edits_modules", node, f"Calls {qualified or callee}")
        if callee in OPENERS and node.args and _is_grader_path(node.args[0]):
            self.flag("reads_grader", node, f"Opens {node.args[0].value!r}")
        if callee in DISPLAY_CALLS and _says_verdict(node.args):
            self.flag("fakes_verdict", node, "Prints a grading verdict")
        if qualified in EXIT_CALLS or (callee in EXIT_NAMES
                                        and isinstance(node.func, ast.Name)):
            self.flag("exits_early", node, f"Calls {qualified or callee}")
        if callee in EVALUATORS and node.args and _text(node.args[0]) is not None:
            # A string that is run is code like any other; read it as code.
            self.read(_text(node.args[0]), offset=node.lineno + self.offset - 1)
        elif not self.read_magic(node, qualified):
            self.generic_visit(node)

    def check_dynamic_call(self, node, qualified, callee):
        """Flags calls that run, import or look up what only exists at run time."""
        callee = self.name_of_call(node)
        direct = (isinstance(node.func, ast.Name) and node.func.id not in self.scope) or (
            qualified in {f"builtins.{callee}", f"importlib.{callee}"})
        if any(self.is_module_table(argument) for argument in node.args):
            # dict(sys.modules), operator.getitem(vars(keras), name)...
            self.flag("dynamic_code", node, "Hands a module table to a function")
            return
        if qualified and qualified.startswith("get_ipython().") and callee in RUNNERS:
            self.flag("dynamic_code", node, f"Runs code given as data with {callee}")
            return
        if qualified in CODE_RUNNERS:
            self.flag("dynamic_code", node, f"Runs code given as data with {qualified}")
            return
        if qualified in FILE_MOVERS and any(
                _text(a) is None or ".py" in _text(a) for a in node.args[1:2]):
            self.flag("dynamic_code", node, "Moves a file to a name it may import")
            return
        if any(k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant)
                                                 and not k.value.value)
               for k in node.keywords) or qualified in UNPICKLERS:
            self.flag("dynamic_code", node, "Loads pickled objects, which can run code")
            return
        if callee in EVALUATORS_HELD and direct:
            self.flag("dynamic_code", node, f"Runs code given as data with {callee}")
        elif callee in IMPORTERS and (not node.args or _text(node.args[0]) is None):
            self.flag("dynamic_code", node, f"Imports a module named at run time "
                      f"with {callee}")
        elif callee in LOOKUPS and direct and len(node.args) > 1 and _text(
                node.args[1]) is None and self.may_hold_a_module(node.args[0]):
            self.flag("dynamic_code", node, f"Looks up a computed name with {callee}")
        elif qualified in {"sys.modules.values", "sys.modules.items", "sys.modules.copy"} or (
                qualified == "sys.modules.get" and not (node.args and _text(node.args[0]))):
            self.flag("dynamic_code", node, f"Reads {qualified.removesuffix('.' + callee)} "
                      "by a computed key")
        elif callee in OPENERS | {"write_text", "write_bytes"} and _writes_python(
                node, callee):
            self.flag("dynamic_code", node, "Writes a Python file, which it may import")
        elif (qualified in {"get_ipython().system", "get_ipython().getoutput"}
              or qualified in PROCESS_CALLS or (qualified or "").startswith("subprocess.")
              ) and _runs_code(node):
            self.flag("dynamic_code", node, f"Runs Python or a shell with {qualified}")
        elif callee in MODEL_LOADERS or qualified in {"tensorflow.saved_model.load"}:
            self.flag("dynamic_code", node, f"Loads a model with {callee} instead of "
                      "building it")
        elif callee in TABLE_METHODS and isinstance(node.func, ast.Attribute) and (
                self.is_module_table(node.func.value)) and not (
                node.args and _text(node.args[0])):
            self.flag("dynamic_code", node, f"Reads a module's names with {callee}")

    def holds_a_module(self, node):
        """A list, tuple, set or dict literal (or comprehension) with a module in it."""
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return any(self.qualified(e) or self.holds_a_module(e) for e in node.elts)
        if isinstance(node, ast.Dict):
            return any(v is not None and (self.qualified(v) or self.holds_a_module(v)
                                          or self.is_module_table(v)) for v in node.values)
        if isinstance(node, ast.BinOp):  # keras.__dict__ | {}
            return any(self.is_module_table(side) or self.holds_a_module(side)
                       for side in (node.left, node.right))
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            return True  # what it yields is not followed: assume the worst
        return False

    def is_module_table(self, node):
        """sys.modules, a module's __dict__, or vars() of a module."""
        table = self.qualified(node) or self.vars_of(node) or ""
        return table == "sys.modules" or table.endswith(".__dict__")

    def may_hold_a_module(self, node):
        """A module by name, or something reached from one, or from a container
        or call the scan cannot see into ([keras][0], vars(...)[...])."""
        if self.qualified(node):
            return True
        if isinstance(node, ast.Name):  # a module by name has a qualified path
            return node.id in self.containers
        if isinstance(node, ast.Attribute | ast.Subscript):
            return self.may_hold_a_module(node.value)
        if isinstance(node, ast.Call):  # get() may return a module; model.get_layer(x) data
            return isinstance(node.func, ast.Name) or self.may_hold_a_module(node.func)
        return True

    def check_setattr(self, node):
        owner = self.qualified(node.args[0]) or self.vars_of(node.args[0])
        name = _text(node.args[1]) or "?"
        rule = _write_rule(f"{owner}.{name}" if owner else None, name)
        if rule:
            self.flag(rule, node, f"Calls {_callee(node)} on {owner or name}")

    def check_module_table(self, node, qualified):
        """Does this call change sys.modules, or reload a library the checks use?"""
        if getattr(node.func, "attr", None) in MODULE_TABLE_WRITES:
            return self.qualified(node.func.value) == "sys.modules"
        if qualified in RELOAD_CALLS and node.args:
            module = self.qualified(node.args[0]) or ""
            return module.split(".")[0] in RELOAD_GUARDED
        return False

    def read_magic(self, node, qualified):
        """Reads the Python inside a magic as code; True if it did."""
        kind = {"get_ipython().run_line_magic": 0,
                "get_ipython().run_cell_magic": 1}.get(qualified)
        arguments = [_text(argument) for argument in node.args]
        if kind is not None and (len(arguments) != 2 + kind or None in arguments):
            self.flag("dynamic_code", node, "Runs a magic named or given at run time")
            return False
        if kind is None:
            return False
        name, code = arguments[0], arguments[-1]
        if name in HELD_MAGICS or (name == "config" and re.search(
                r"InteractiveShell|autocall|automagic|transformer|Completer", code)) or (
                name in {"load_ext", "reload_ext"} and code.strip() not in SAFE_EXTENSIONS):
            self.flag("dynamic_code", node, f"Runs code the scan cannot read with %{name}")
        if name in {"writefile", "file"} and ".py" in arguments[1]:
            self.flag("dynamic_code", node, "Writes a Python file, which it may import")
        elif (kind == 1 and name in SHELL_MAGICS) or (
                name in {"system", "sx"} and SHELL_PYTHON.search(code)):
            self.flag("dynamic_code", node, f"Runs code the scan cannot read with %{name}")
        if name in DISPLAY_MAGICS and VERDICT.search(code):
            self.flag("fakes_verdict", node, f"Shows a grading verdict with %%{name}")
        if name not in PYTHON_MAGICS:
            return False
        for argument in node.args[1:-1]:  # a cell magic's line: e.g. a file name
            self.visit(argument)
        line = node.lineno + self.offset
        # A line magic's code is on its own line; a cell magic's body starts below.
        if kind == 0:
            code = MAGIC_OPTIONS.sub("", code)
        self.read(code, offset=line - 1 + kind)
        return True


def _automagic(source):
    """A one-line cell that starts with a magic's name runs as that magic
    (IPython's automagic: `run helper.py` is `%run helper.py`)."""
    stripped = source.strip()
    if "\n" not in stripped and stripped.split(" ", 1)[0] in AUTOMAGICS:
        return "%" + stripped
    return source


def _parse(source):
    """The syntax tree of a cell, after turning IPython syntax (%magic, !shell) into
    Python; raises one of UNREADABLE if it is not Python."""
    # IPython drops leading blank lines; drop them here so line numbers can be kept.
    lines = source.splitlines(keepends=True)
    blank = next((index for index, line in enumerate(lines) if line.strip()), 0)
    source = "".join(lines[blank:])
    try:
        source = _TRANSFORMER.transform_cell(source)
    except Exception:  # the transformer gives up on some broken cells: parse as is
        pass
    with warnings.catch_warnings():  # e.g. invalid escapes: the student's to see
        warnings.simplefilter("ignore")
        return ast.increment_lineno(ast.parse(source), blank)


def _callee(call):
    function = call.func
    return getattr(function, "id", None) or getattr(function, "attr", None)


def _parameters(arguments):
    every = arguments.posonlyargs + arguments.args + arguments.kwonlyargs
    every += [argument for argument in (arguments.vararg, arguments.kwarg) if argument]
    return [argument.arg for argument in every]


def _write_rule(qualified, attribute):
    """The rule an assignment to `qualified` (attribute `attribute`) breaks, if any."""
    if attribute in HOOK_WRITES or (qualified or "").startswith("get_ipython()"):
        return "hooks_ipython"
    if qualified is None:
        return None  # an attribute of a local object: model.trainable, self.x
    if qualified == "sys.modules":
        return "edits_modules"
    parts = qualified.split(".")
    if qualified in HONEST_WRITES or DISPLAY_SETTINGS.intersection(parts[1:]):
        return None
    return "patches_library"


def _canonical(qualified):
    """os.sys.modules is sys.modules, importlib.sys too: a module's own name."""
    parts = qualified.split(".")
    for index in range(len(parts) - 1, 0, -1):
        if parts[index] in {"sys", "builtins", "importlib"}:
            return ".".join(parts[index:])
    return qualified


def _is_applications(qualified):
    parts = qualified.split(".")
    return parts[0] in {"keras", "tensorflow", "tf_keras"} and "applications" in parts


def _runs_code(call):
    """Whether a shell or process call runs code: its command is computed, or
    names an interpreter or a script (ls, nvidia-smi, pip do not)."""
    if not call.args:
        return True
    command = call.args[0]
    if isinstance(command, ast.List | ast.Tuple):
        parts = [_text(part) for part in command.elts]
        if None in parts:
            return True
        text = " ".join(parts)
    else:
        text = _text(command)
        if text is None:
            return True
    return bool(SHELL_PYTHON.search(text))


def _inner(node):
    """What an attribute, a subscript or a lookup call looks into."""
    if isinstance(node, ast.Attribute | ast.Subscript):
        return node.value
    if isinstance(node, ast.Call) and node.args:
        return node.args[0]
    return None


def _writes_python(call, callee):
    """open("x.py", "w"), Path("x.py").write_text(...), open("x" + ".py", "w")..."""
    target = call.func.value if isinstance(call.func, ast.Attribute) else None
    if callee in {"write_text", "write_bytes"} or (callee == "open" and target is not None):
        path = target.args[0] if isinstance(target, ast.Call) and target.args else None
        modes = call.args[:1] if callee == "open" else [ast.Constant("w")]
    else:
        path = call.args[0] if call.args else None
        modes = call.args[1:2]
    modes = [_text(m) for m in modes] + [_text(k.value) for k in call.keywords
                                        if k.arg == "mode"]
    if not any(mode and set(mode) & set("wax") for mode in modes):
        return False
    return path is not None and any(
        (_text(part) or "").endswith((".py", ".pth", ".pyc")) for part in ast.walk(path))


def _text(node):
    """The value of a string literal, or None for anything else."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _is_grader_path(node):
    path = _text(node) or ""
    outside = path.startswith("/") or ".." in path  # the notebook's folder is safe
    return outside and path.endswith(GRADER_FILE_SUFFIXES)


def _says_verdict(arguments):
    return any(VERDICT.search(_text(node) or "")
               for argument in arguments for node in ast.walk(argument))
