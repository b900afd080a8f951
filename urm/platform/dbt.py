"""Run dbt against the configured warehouse, from the CLI, from Airflow (through Cosmos) or tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from urm.platform.settings import DBT_PROJECT_DIR, urm_home
from urm.platform.warehouse import external_url, warehouse_url


def connection_env(url: str | None = None) -> dict[str, str]:
    """URM_PG* variables (read by dbt_project/profiles.yml) for a PostgreSQL URL."""
    url = url or warehouse_url()
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    env = {
        "URM_PGHOST": query.get("host", [parts.hostname or "127.0.0.1"])[0],
        "URM_PGPORT": str(parts.port or 5432),
        "URM_PGUSER": unquote(parts.username or "postgres"),
        "URM_PGPASSWORD": unquote(parts.password or ""),
        "URM_PGDATABASE": parts.path.lstrip("/") or "postgres",
        "URM_DBT_TARGET": "external" if external_url() else "embedded",
    }
    if "sslmode" in query:
        env["URM_PGSSLMODE"] = query["sslmode"][0]
    return env


def run_time_env(url: str | None = None) -> dict[str, str]:
    """Everything a dbt process needs: connection, and target/log paths outside the project."""
    home = urm_home()
    return {
        **connection_env(url),
        "DBT_TARGET_PATH": str(home / "dbt" / "target"),
        "DBT_LOG_PATH": str(home / "dbt" / "logs"),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # A partial build (`--select +fct_loans`) runs only the tests whose every model it builds:
        # a relationship test to a mart left out is not selected (it would fail on a missing table).
        "DBT_INDIRECT_SELECTION": "cautious",
    }


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(*args: str, url: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **run_time_env(url)}
    cmd = [dbt_executable(), *args, "--project-dir", str(DBT_PROJECT_DIR)]
    result = subprocess.run(cmd, env=env, text=True, capture_output=True, check=False)
    if check and result.returncode != 0:
        raise RuntimeError(f"dbt {' '.join(args)} failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return result


def manifest_path() -> Path:
    """Where `dbt parse` leaves the manifest that Cosmos renders the warehouse DAG from."""
    return urm_home() / "dbt" / "target" / "manifest.json"


def parse_manifest() -> Path:
    """`dbt parse` into manifest_path(), without a server (dbt parse never connects).

    Run when the project is installed (`make`) and when the image is built (Dockerfile), so that
    Airflow renders the warehouse DAG from the manifest instead of running dbt at parse time."""
    home = urm_home()
    env = {
        **os.environ,
        "DBT_TARGET_PATH": str(home / "dbt" / "target"),
        "DBT_LOG_PATH": str(home / "dbt" / "logs"),
        "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [dbt_executable(), "parse", "--project-dir", str(DBT_PROJECT_DIR)]
    result = subprocess.run(cmd, env=env, text=True, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"dbt parse failed:\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return manifest_path()


if __name__ == "__main__":  # `python -m urm.platform.dbt`: what the Makefile and Dockerfile run
    print(parse_manifest())
