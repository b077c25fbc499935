"""The grader code that runs in the student's sandbox is one small folder that
imports nothing of the judge."""

import ast
import sys

from autograder import sandbox

# The standard library, Keras, NumPy, IPython's display (the channel out of the
# kernel) and the package itself.
ALLOWED_THIRD_PARTY = {"keras", "numpy", "IPython.display"}


def imports_of(path):
    """Every module a file imports, at any depth, as written."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import, write it out"
            found.append(node.module)
    return found


def test_kernel_package_imports_only_keras_numpy_and_itself():
    """Does every module of autograder/kernel import only the standard library,
    Keras, NumPy, IPython's display and autograder.kernel?"""
    files = sorted(sandbox.KERNEL_PACKAGE.glob("*.py"))
    assert {path.name for path in files} >= {"__init__.py", "exporter.py", "channel.py"}
    for path in files:
        for module in imports_of(path):
            top = module.split(".")[0]
            allowed = (top in sys.stdlib_module_names or module in ALLOWED_THIRD_PARTY
                       or top in ALLOWED_THIRD_PARTY or module == "autograder.kernel"
                       or module.startswith("autograder.kernel."))
            assert allowed, f"{path.name} imports {module}"


def test_kernel_package_holds_no_subfolders_or_other_files():
    """Is the package flat Python only, so the folder the sandbox binds holds
    nothing a reviewer has not read?"""
    entries = {path.name for path in sandbox.KERNEL_PACKAGE.iterdir()
               if path.name != "__pycache__"}
    assert all(name.endswith(".py") for name in entries), entries


def test_the_sandbox_binds_the_folder_and_no_other_grader_file(tmp_path):
    """Does the kernel's bubblewrap command bind autograder/kernel, and no other
    file of the grader (the reference, the verifier)?"""
    places = sandbox.KernelPlaces(tmp_path / "runtime", tmp_path / "sockets",
                                  tmp_path / "release", tmp_path / "data", ())
    bounds = sandbox.Bounds(2**30, 2**32, 64, 256, 2**26, 2**25, 2**25)
    argv = sandbox.write_kernelspec(tmp_path / "jupyter", places, bounds, True, 2_000_001)
    grader_sources = [arg for arg in argv if arg.startswith(str(sandbox.GRADER_ROOT))]
    assert grader_sources == [str(sandbox.KERNEL_PACKAGE)]
