"""The pinned environment is stated in three places; these tests keep them equal."""

from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def exact_pins(lines, source):
    """Maps canonical package name to its pinned version; rejects loose pins."""
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        requirement = Requirement(line)
        specifiers = list(requirement.specifier)
        if len(specifiers) != 1 or specifiers[0].operator != "==":
            raise AssertionError(f"{source}: {line!r} is not pinned with '=='")
        pins[canonicalize_name(requirement.name)] = specifiers[0].version
    return pins


def requirements_pins():
    path = ROOT / "requirements.txt"
    return exact_pins(path.read_text().splitlines(), path.name)


def conda_spec():
    return yaml.safe_load((ROOT / "environment.yml").read_text())


def conda_pip_pins():
    pip_sections = [d["pip"] for d in conda_spec()["dependencies"] if isinstance(d, dict)]
    assert len(pip_sections) == 1, "environment.yml should have exactly one pip section"
    return exact_pins(pip_sections[0], "environment.yml")


def test_conda_pins_equal_pip_pins():
    """Does environment.yml pin exactly the packages and versions of requirements.txt?"""
    pip_pins, conda_pins = requirements_pins(), conda_pip_pins()
    differing = {
        name: (pip_pins.get(name), conda_pins.get(name))
        for name in pip_pins.keys() | conda_pins.keys()
        if pip_pins.get(name) != conda_pins.get(name)
    }
    assert not differing, f"(requirements.txt, environment.yml) disagree: {differing}"


def test_conda_python_is_311():
    """Does environment.yml ask for the Python the pip environment is built with?"""
    assert "python=3.11" in conda_spec()["dependencies"]


def test_lock_agrees_with_direct_pins():
    """Does the full lock file hold each direct pin at the same version?"""
    path = ROOT / "requirements-lock.txt"
    lock = exact_pins(path.read_text().splitlines(), path.name)
    wrong = {
        name: (version, lock.get(name))
        for name, version in requirements_pins().items()
        if lock.get(name) != version
    }
    assert not wrong, f"(requirements.txt, requirements-lock.txt) disagree: {wrong}"


@pytest.mark.parametrize("name", sorted(requirements_pins()))
def test_running_environment_is_the_pinned_one(name):
    """Is the test run using the pinned version of each direct dependency?"""
    assert metadata.version(name) == requirements_pins()[name]
