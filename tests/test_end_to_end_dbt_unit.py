"""End to end, dbt's unit tests: every unit test of the project passes on the demo's warehouse.

The warehouse DAG leaves unit tests out of its builds (they check the models' SQL on fixed
inputs, whatever the data); here they run, all of them, on the tables the demo built (dbt
needs the upstream relations to exist to read their columns)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from urm.platform.dbt import run_dbt, run_time_env

pytestmark = pytest.mark.e2e


def test_every_dbt_unit_test_passes(demo_run: dict) -> None:
    result = run_dbt("test", "--select", "test_type:unit", url=demo_run["url"], check=False)
    assert result.returncode == 0, result.stdout[-4000:]
    target = run_time_env(demo_run["url"])["DBT_TARGET_PATH"]
    results = json.loads((Path(target) / "run_results.json").read_text())["results"]
    unit = [r for r in results if r["unique_id"].startswith("unit_test.")]
    assert len(unit) >= 20, f"only {len(unit)} unit tests ran"
    assert all(r["status"] == "pass" for r in unit)
