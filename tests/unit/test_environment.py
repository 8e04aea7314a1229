"""The dependency lists agree: requirements.in, pyproject.toml, environment.yml and the lock.

- requirements/requirements.in is the list of direct dependencies;
- pyproject.toml's [project].dependencies plus its `test` extra name exactly those;
- environment.yml (conda) names exactly those, each pinned to the lock's version;
- requirements/lock.txt pins every one of them, at a version every listed
  specifier allows (e.g. python-dateutil<3, see feasibility.md §1).
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]


def requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def by_name(reqs: list[Requirement]) -> dict[str, Requirement]:
    named: dict[str, Requirement] = {}
    for req in reqs:
        name = canonicalize_name(req.name)
        assert name not in named, f"{req.name} is listed twice"
        named[name] = req
    return named


@pytest.fixture(scope="module")
def requirements_in() -> dict[str, Requirement]:
    return by_name([Requirement(line) for line in requirement_lines(REPO / "requirements" / "requirements.in")])


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    listed = project["dependencies"] + project.get("optional-dependencies", {}).get("test", [])
    return by_name([Requirement(r) for r in listed])


@pytest.fixture(scope="module")
def environment() -> tuple[list[str], dict[str, Requirement]]:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    reqs = [Requirement(line) for line in pip if not line.startswith("-")]
    return conda, by_name(reqs)


@pytest.fixture(scope="module")
def lock() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in requirement_lines(REPO / "requirements" / "lock.txt"):
        match = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        assert match, f"lock.txt line is not name==version: {line!r}"
        pins[canonicalize_name(match.group(1))] = Version(match.group(2))
    return pins


def test_pyproject_lists_the_same_direct_dependencies(requirements_in, pyproject) -> None:
    assert sorted(pyproject) == sorted(requirements_in)
    for name, req in requirements_in.items():
        assert pyproject[name].extras == req.extras, name
        assert pyproject[name].specifier == req.specifier, name


def test_environment_yml_lists_the_same_direct_dependencies(requirements_in, environment) -> None:
    conda, pip = environment
    assert "python=3.11" in conda
    assert sorted(pip) == sorted(requirements_in)
    for name, req in requirements_in.items():
        assert pip[name].extras == req.extras, name


def test_environment_yml_pins_equal_the_lock(environment, lock) -> None:
    _, pip = environment
    for name, req in pip.items():
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"{name} in environment.yml must be pinned with =="
        assert Version(specs[0].version) == lock[name], f"{name}: environment.yml {specs[0].version}, lock {lock[name]}"


def test_the_lock_pins_every_direct_dependency_within_its_specifier(requirements_in, pyproject, lock) -> None:
    missing = sorted(set(requirements_in) - set(lock))
    assert not missing, f"not in requirements/lock.txt (run `make lock`): {missing}"
    for source in (requirements_in, pyproject):
        for name, req in source.items():
            assert req.specifier.contains(lock[name], prereleases=True), f"lock {name}=={lock[name]} violates {req}"


def test_the_dateutil_trap_stays_closed(requirements_in, lock) -> None:
    # kubernetes' newest release wants python-dateutil>=3, every botocore <3: without
    # this cap pip backtracks through all of botocore (feasibility.md §1).
    assert not requirements_in["python-dateutil"].specifier.contains("3.0.0")
    assert lock["python-dateutil"] < Version("3")
