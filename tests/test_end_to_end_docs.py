"""Documentation is complete by construction: after the demo's build, every mart dbt made and
every column it holds is described in the project's YAML, so BI users and `urm docs` see a
meaning for each. Found from the warehouse, not listed here. (Every model of every folder is
described: tests/test_dbt_core.py::test_models_are_documented.)"""

from __future__ import annotations

import json

import psycopg
import pytest

pytestmark = pytest.mark.e2e


def test_every_built_model_and_column_is_described(demo_run: dict) -> None:
    from urm.platform.dbt import manifest_path

    manifest = json.loads(manifest_path().read_text())
    models = {
        node["name"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] in {"model", "seed"} and node["package_name"] == "library_urm"
    }
    missing: list[str] = []
    with psycopg.connect(demo_run["url"]) as conn:
        built = conn.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema = 'marts' order by 1, 2, ordinal_position"
        ).fetchall()
    assert built, "the demo built nothing"
    seen = set()
    for schema, table, column in built:
        node = models.get(table)
        if node is None:
            missing.append(f"{schema}.{table}: no model or seed of that name")
            continue
        seen.add(table)
        if not node.get("description"):
            missing.append(f"{schema}.{table}: no description")
        described = {name.lower() for name, col in node["columns"].items() if col.get("description")}
        if column.lower() not in described:
            missing.append(f"{schema}.{table}.{column}")
    assert not missing, "undocumented: " + ", ".join(sorted(set(missing)))
    marts = {
        n for n, node in models.items() if node["resource_type"] == "model" and node["schema"] == "marts"
    }
    assert not marts - seen, f"marts the demo did not build: {sorted(marts - seen)}"
