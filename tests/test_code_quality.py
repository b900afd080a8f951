"""The project's own rules on its code, run by `make test`: formatted and lint-clean Python
(ruff, RUF100 included, so no `noqa` is left that does nothing), mypy over every package, sqlfluff
over every dbt model, and a production wheel that carries no demo code."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from urm.platform.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(*cmd: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, env=env)


def test_ruff_format_leaves_every_file_as_it_is() -> None:
    result = _run(str(BIN / "ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_finds_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_every_package() -> None:
    """The packages are listed once, in pyproject.toml's [tool.mypy] files."""
    result = _run(str(BIN / "mypy"))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.integration
def test_sqlfluff_passes_on_every_model(warehouse_url: str) -> None:
    """The dbt templater compiles each model (it needs the profile's connection settings)."""
    from urm.platform.dbt import run_time_env

    env = {**os.environ, **run_time_env(warehouse_url)}
    processes = str(os.cpu_count() or 1)  # one dbt compile, then the files linted in parallel
    result = _run(str(BIN / "sqlfluff"), "lint", "dbt_project/models", "--processes", processes, env=env)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def test_a_production_wheel_carries_no_demo_code(tmp_path: Path) -> None:
    """`pip install .` (and the Docker image) gets the platform only: no synthetic university,
    no numpy, no test code."""
    result = _run(str(BIN / "uv"), "build", "--wheel", "--quiet", "--out-dir", str(tmp_path), ".")
    assert result.returncode == 0, result.stdout + result.stderr
    [wheel] = tmp_path.glob("library_urm-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if not name.startswith("library_urm-")}
    assert packages == {"ingest", "urm", "expectations"}, packages
    metadata = next(n for n in names if n.endswith("METADATA"))
    requires = [
        line
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist:") and "extra ==" not in line
    ]
    assert not any("numpy" in line or "urm-demo" in line for line in requires), requires
