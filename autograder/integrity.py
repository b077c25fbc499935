"""Find cheat attempts in a submitted notebook by reading its code, never running it.

Grading runs the notebook in a sandbox and verifies the exercises outside it,
so most tricks cannot change a score. They still deserve a name in the
instructor's report, and an attempt on an exercise earns that exercise 0.
``scan`` reads every cell a student can edit with Python's ``ast`` (IPython
syntax is turned into Python first), follows import aliases from cell to cell,
and returns one ``Flag`` per finding. A cell that does not parse is read line
by line with the same rules, so a syntax error cannot hide the rest of a cell.

Each rule has a stable tag, so reports can count attempts across a class.
Nothing here imports TensorFlow or Keras, or the student's code.
"""

import ast
import dataclasses
import re
import warnings
from collections import ChainMap

from IPython.core.inputtransformer2 import TransformerManager

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
}
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
# uses_keras_applications: also a module named in a string (import_module).
APPLICATIONS_TEXT = re.compile(r"\bkeras(\.src)?\.applications\b")
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


def scan(notebook):
    """Finds cheat attempts in the cells of a notebook that a student can edit.

    Args:
        notebook: an nbformat NotebookNode, version 4.

    Returns:
        A list of Flag in reading order, at most one per rule and line.

    Raises:
        ValueError: `notebook` is not a version 4 notebook.
    """
    if getattr(notebook, "nbformat", None) != 4 or not hasattr(notebook, "cells"):
        raise ValueError(f"notebook must be an nbformat version 4 NotebookNode, "
                         f"received {type(notebook).__name__} {str(notebook)[:80]!r}")
    grade_ids = [cell.metadata.get("nbgrader", {}).get("grade_id")
                 for cell in notebook.cells]
    test_cells = {exercise: grade_ids.index(exercise)
                  for exercise in EXERCISES if exercise in grade_ids}
    aliases = dict(DEFAULT_MODULES)  # shared by all cells: imports carry over
    flags = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        source = "".join(cell.source)
        findings = _Reader(aliases).read(source)  # instructor imports count too
        nbgrader = cell.metadata.get("nbgrader", {})
        if _is_instructor_cell(nbgrader):
            continue
        lines = source.splitlines()
        exercises = _affected(index, nbgrader.get("grade_id"), test_cells,
                              len(notebook.cells))
        for rule, line, what in findings:
            code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
            zeroes, reason = RULES[rule]
            flags.setdefault((index, line, rule), Flag(
                rule, index, line, code[:MAX_CODE_CHARS], f"{what}: {reason}.",
                _reach(rule, exercises, nbgrader.get("grade_id")), zeroes))
    return [flags[key] for key in sorted(flags)]


def affected_scores(flags):
    """The exercises that get 0, each with the flags that cost it its points."""
    affected = {}
    for flag in flags:
        for exercise in flag.exercises if flag.zeroes else ():
            affected.setdefault(exercise, []).append(flag)
    return {exercise: affected[exercise]
            for exercise in EXERCISES if exercise in affected}


def format_flag(flag):
    """One line for a report: where (cells counted from 1), what and why, then the code."""
    return f"cell {flag.cell_index + 1}, line {flag.line}: {flag.message} ({flag.code})"


def _is_instructor_cell(nbgrader):
    # Locked cells and test cells hold instructor code, which nbgrader puts back
    # at grading. This trusts the metadata, which a student can edit: telling a
    # forged "locked" cell apart needs the instructor's notebook, out of scope here.
    return bool(nbgrader.get("locked")) or (
        bool(nbgrader.get("grade")) and not nbgrader.get("solution"))


def _reach(rule, exercises, grade_id):
    """Reading the grader outside an exercise's cell aims at every grade at once:
    the gradebook and the source notebook hold them all, wherever the cell is."""
    if rule == "reads_grader" and not (grade_id or "").endswith(SOLUTION_SUFFIX):
        return EXERCISES
    return exercises


def _affected(index, grade_id, test_cells, missing_position):
    """A solution cell affects its exercise; other cells, each later test cell."""
    if grade_id and grade_id.endswith(SOLUTION_SUFFIX):
        exercise = grade_id.removesuffix(SOLUTION_SUFFIX)
        if exercise in EXERCISES:
            return (exercise,)
    # A deleted test cell counts as coming last: whatever the cell did, it came first.
    return tuple(exercise for exercise in EXERCISES
                 if test_cells.get(exercise, missing_position) > index)


class _Reader(ast.NodeVisitor):
    """Walks one cell in order, following aliases and collecting findings."""

    def __init__(self, aliases):
        self.scope = ChainMap(aliases)  # name -> dotted module path, or None
        self.offset = 0  # added to node line numbers (for code inside magics)
        self.findings = []  # (rule, line, what)

    def read(self, source, offset=0):
        """Reads a cell's source; a cell that does not parse is read line by line."""
        outer_offset, self.offset = self.offset, offset
        try:
            self.visit(_parse(source))
        except UNREADABLE:
            for number, line in enumerate(source.splitlines(), start=offset + 1):
                self.offset = number - 1
                text = line.strip()
                try:  # a block's header parses once it has a body
                    self.visit(_parse(text + " pass" if text.endswith(":") else text))
                except UNREADABLE:
                    continue
        self.offset = outer_offset
        return self.findings

    def flag(self, rule, node, what):
        self.findings.append((rule, getattr(node, "lineno", 0) + self.offset, what))

    def qualified(self, node):
        """The dotted module path `node` stands for, or None if not a module's."""
        if isinstance(node, ast.Name):
            return self.scope.get(node.id)
        if isinstance(node, ast.Attribute):
            base = self.qualified(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call) and _callee(node) == "get_ipython":
            return "get_ipython()"
        if isinstance(node, ast.Call) and _callee(node) in IMPORTERS and node.args:
            return _text(node.args[0])  # __import__("numpy") is numpy
        if isinstance(node, ast.Subscript):
            table = self.qualified(node.value)
            return _text(node.slice) if table == "sys.modules" else None  # numpy too
        return None

    # Imports and names.
    def visit_Import(self, node):
        for alias in node.names:
            self.check_import(alias.name, node)
            bound = alias.asname or alias.name.split(".")[0]
            self.scope[bound] = alias.name if alias.asname else bound

    def visit_ImportFrom(self, node):
        module = "." * node.level + (node.module or "")
        self.check_import(module, node)
        for alias in node.names:
            if alias.name != "*":
                full = f"{module}.{alias.name}".lstrip(".")
                self.check_import(full, node)
                self.scope[alias.asname or alias.name] = full

    def check_import(self, module, node):
        parts = module.strip(".").split(".")
        if GRADER_MODULES.intersection(parts):
            self.flag("reads_grader", node, f"Imports {module}")
        if _is_applications(module.strip(".")):
            self.flag("uses_keras_applications", node, f"Imports {module}")

    def bind(self, target, value=None):
        """Records what a name now holds: a module path, or nothing we follow."""
        if isinstance(target, ast.Name):
            self.scope[target.id] = self.qualified(value) if value is not None else None
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
        qualified = self.qualified(node)
        if qualified and node.attr == "applications" and _is_applications(qualified):
            self.flag("uses_keras_applications", node, f"Uses {qualified}")
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
        if APPLICATIONS_TEXT.search(text):
            self.flag("uses_keras_applications", node, "Names keras.applications")

    def visit_Call(self, node):
        qualified, callee = self.qualified(node.func), _callee(node)
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
        if kind is None or len(arguments) != 2 + kind or None in arguments:
            return False
        name, code = arguments[0], arguments[-1]
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


def _is_applications(qualified):
    parts = qualified.split(".")
    return parts[0] in {"keras", "tensorflow", "tf_keras"} and "applications" in parts


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
