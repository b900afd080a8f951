"""The project's own rules on its code: ruff clean everywhere, mypy clean on ingest/."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from urm.platform.settings import PROJECT_ROOT

BIN = Path(sys.executable).parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    result = _run(str(BIN / "ruff"), "check", "ingest", "urm", "expectations", "dags", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_ingest() -> None:
    result = _run(str(BIN / "mypy"), "ingest")
    assert result.returncode == 0, result.stdout + result.stderr
