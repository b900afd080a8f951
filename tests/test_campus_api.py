"""The campus API connector against a local hub that misbehaves on demand (urm_demo.campus_server):
expired and revoked tokens, 429 with Retry-After, 5xx, timeouts, truncated and non-JSON pages,
records repeated across pages, a deletion between two syncs. Each ends in a complete,
duplicate-free sync or a clear failure with nothing half-applied; the watermark moves only with a
committed sync, and no credential reaches a message or the warehouse."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner
from urm_demo.campus_server import CampusServer

from ingest.campus.api import ApiContract, CampusApiClient, CampusApiError, CampusCredentials, sync
from ingest.errors import LoadRejected
from ingest.pseudonym import Pseudonymiser
from ingest.run import fetch_and_ingest
from tests.conftest import TEST_KEY

pseudonym = Pseudonymiser(TEST_KEY).pseudonym
SECRET = "top-secret-Ω-value"


def record(n: int, at: str, **fields: object) -> dict:
    return {
        "person_id": f"S{n:04d}",
        "person_type": "student",
        "name": f"学生{n}",
        "phone": f"1390000{n:04d}",
        "college": {"code": "CS", "name": "计算机学院"},
        "major": {"code": "CS01", "name": "软件工程"},
        "degree_level": "bachelor",
        "entry_year": 2023,
        "expected_graduation_year": 2027,
        "enrollment_status": "enrolled",
        "library": {"card_number": f"21{n:08d}", "login": f"s{n:04d}", "koha_borrowernumber": str(n)},
        "cards": [{"card_number": f"21{n:08d}", "valid_from": "2023-09-01T00:00:00Z", "valid_to": None}],
        "updated_at": at,
        **fields,
    }


def hub_data(people: int = 5) -> dict[str, list[dict]]:
    return {
        "persons": [record(n, f"2025-09-0{n}T08:00:00Z") for n in range(1, people + 1)],
        "org_units": [
            {"code": "CS", "name": "计算机学院", "type": "college", "updated_at": "2025-01-01T00:00:00Z"}
        ],
        "majors": [
            {"code": "CS01", "name": "软件工程", "college_code": "CS", "updated_at": "2025-01-01T00:00:00Z"}
        ],
        "classes": [],
    }


@pytest.fixture
def server() -> Iterator[CampusServer]:
    with CampusServer(hub_data(), client_secret=SECRET) as running:
        yield running


class Recorder:
    """A sleep that does not sleep, and a clock the test moves."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self.now = 1000.0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def clock(self) -> float:
        return self.now


def client(server: CampusServer, recorder: Recorder | None = None, **kwargs: object) -> CampusApiClient:
    recorder = recorder or Recorder()
    return CampusApiClient(
        server.base_url,
        CampusCredentials(server.client_id, server.client_secret),
        sleep=recorder.sleep,
        clock=recorder.clock,
        **kwargs,  # type: ignore[arg-type]
    )


def landed(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def persons_in(path: Path) -> list[dict]:
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [line["record"] for line in lines[1:] if line["resource"] == "persons"]


@pytest.mark.parametrize("pagination", ["cursor", "page"])
def test_a_full_sync_lands_every_record_once_even_when_pages_overlap(
    server: CampusServer, tmp_path: Path, pagination: str
) -> None:
    server.overlap = 1  # every page repeats the previous page's last record
    api = client(server, contract=ApiContract(pagination=pagination))
    result = sync(api, hub="h", landing_dir=tmp_path, page_size=2)
    assert result.path is not None and landed(tmp_path) == [result.path]
    ids = [r["person_id"] for r in persons_in(result.path)]
    assert ids == ["S0001", "S0002", "S0003", "S0004", "S0005"]
    persons = next(r for r in result.resources if r.resource == "persons")
    # page numbers end at the first short page: here an empty fourth one
    assert (persons.records, persons.received, persons.pages) == (5, 7, 3 if pagination == "cursor" else 4)
    assert persons.watermark == datetime(2025, 9, 5, 8, tzinfo=UTC)
    assert "2 repeats dropped" in result.describe()
    assert api.tokens_issued == 1
    written = result.path.read_text(encoding="utf-8")
    assert "学生1" not in written and "13900000001" not in written, "names and phones are not kept"


def test_an_expired_token_is_renewed_before_the_next_page(server: CampusServer, tmp_path: Path) -> None:
    recorder = Recorder()
    api = client(server, recorder)
    pages = api.pages("persons", None, 2)
    next(pages)
    recorder.now += 7200  # past the announced expiry (3600 s)
    list(pages)
    assert api.tokens_issued == 2
    assert [r.status for r in server.requests if r.path == "/oauth/token"] == [200, 200]


def test_a_token_the_server_stops_honouring_is_renewed_and_the_request_retried(
    server: CampusServer, tmp_path: Path
) -> None:
    api = client(server)
    pages = api.pages("persons", None, 2)
    next(pages)
    server.expire_tokens()  # revoked (or expired early) on the hub's side: the next page gets a 401
    rest = list(pages)
    assert [len(data) for _, data in rest] == [2, 1]
    assert api.tokens_issued == 2
    assert [r.status for r in server.asked("persons")] == [200, 401, 200, 200]


def test_a_401_that_persists_after_a_new_token_fails_clearly(server: CampusServer, tmp_path: Path) -> None:
    server.fail("persons", status=401)
    server.fail("persons", status=401)
    with pytest.raises(CampusApiError, match=r"persons page 1 .*HTTP 401 even with a new token"):
        sync(client(server), hub="h", landing_dir=tmp_path)
    assert landed(tmp_path) == []


def test_429_waits_as_long_as_retry_after_says(server: CampusServer, tmp_path: Path) -> None:
    recorder = Recorder()
    server.fail("persons", status=429, retry_after=7, page=2)
    result = sync(client(server, recorder), hub="h", landing_dir=tmp_path, page_size=2)
    assert recorder.slept == [7.0]
    assert len(persons_in(result.path)) == 5


def test_5xx_is_retried_with_backoff_then_completes(server: CampusServer, tmp_path: Path) -> None:
    recorder = Recorder()
    server.fail("persons", status=503)
    server.fail("persons", status=500)
    result = sync(client(server, recorder, backoff_seconds=1.0), hub="h", landing_dir=tmp_path)
    assert recorder.slept == [1.0, 2.0]
    assert len(persons_in(result.path)) == 5


def test_5xx_is_retried_a_bounded_number_of_times(server: CampusServer, tmp_path: Path) -> None:
    recorder = Recorder()
    for _ in range(5):
        server.fail("org_units", status=502)
    with pytest.raises(CampusApiError, match=r"org_units page 1 .*HTTP 502 after 3 attempts"):
        sync(client(server, recorder, attempts=3), hub="h", landing_dir=tmp_path)
    assert len(recorder.slept) == 2
    assert landed(tmp_path) == [], "the persons fetched before the failure are not half-applied"


def test_a_timeout_is_retried(server: CampusServer, tmp_path: Path) -> None:
    recorder = Recorder()
    server.fail("persons", delay=1.5, page=1)
    result = sync(client(server, recorder, timeout=0.5), hub="h", landing_dir=tmp_path)
    assert len(recorder.slept) == 1
    assert len(persons_in(result.path)) == 5


@pytest.mark.parametrize(
    ("fault", "message"),
    [({"truncate": True}, "cut off"), ({"garbage": True}, "truncated or not JSON")],
)
def test_a_truncated_or_non_json_page_fails_naming_the_page_and_lands_nothing(
    server: CampusServer, tmp_path: Path, fault: dict, message: str
) -> None:
    server.fail("persons", page=2, **fault)
    with pytest.raises(
        CampusApiError, match=rf"persons page 2 \(http://127\.0\.0\.1:\d+/api/v1/persons\?.*{message}"
    ):
        sync(client(server), hub="h", landing_dir=tmp_path, page_size=2)
    assert landed(tmp_path) == []


def test_no_credential_reaches_an_error_message(server: CampusServer, tmp_path: Path) -> None:
    api = client(server)
    token = api.token()
    server.fail(
        "persons", status=500, body={"debug": f"client {server.client_id} secret {SECRET} token {token}"}
    )
    server.fail("persons", status=500, body={"debug": f"secret {SECRET}"})
    with pytest.raises(CampusApiError) as raised:
        sync(
            CampusApiClient(server.base_url, api.credentials, attempts=2, sleep=lambda s: None),
            hub="h",
            landing_dir=tmp_path,
        )
    text = str(raised.value)
    assert "***" in text
    for secret in (SECRET, server.client_id):
        assert secret not in text
    wrong = CampusApiClient(server.base_url, CampusCredentials(server.client_id, "wrong-" + SECRET))
    with pytest.raises(CampusApiError, match="refused the client credentials") as refused:
        wrong.token()
    assert SECRET not in str(refused.value) and "wrong-" not in str(refused.value)
    assert "secret" not in repr(api.credentials).lower() or SECRET not in repr(api.credentials)


def test_a_hub_with_other_field_names_through_a_contract(tmp_path: Path) -> None:
    renamed = [
        {("xh" if k == "person_id" else k): v for k, v in record(n, f"2025-09-0{n}T08:00:00Z").items()}
        for n in (1, 2)
    ]
    contract = ApiContract.from_option(
        json.dumps({"pagination": "page", "person_fields": {"person_id": "xh"}, "token_auth": "body"})
    )
    with CampusServer({"persons": renamed}, client_secret=SECRET) as hub:
        result = sync(
            client(hub, contract=contract), hub="h", landing_dir=tmp_path, page_size=1, resources=("persons",)
        )
    assert [r["person_id"] for r in persons_in(result.path)] == ["S0001", "S0002"]


# --- through the warehouse: one sync, one transaction; watermarks only with committed data ------


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, server: CampusServer) -> None:
    monkeypatch.setenv("URM_CAMPUS_CLIENT_ID", server.client_id)
    monkeypatch.setenv("URM_CAMPUS_CLIENT_SECRET", server.client_secret)


def campus_sync(url: str, server: CampusServer, landing: Path, **options: object) -> list:
    return fetch_and_ingest(
        url,
        "campus",
        "campus-api",
        server.base_url,
        landing=landing,
        key=TEST_KEY,
        max_reject_share=0.25,
        options={"hub": "test-hub", "page_size": 2, **options},
    )


def counts(conn: psycopg.Connection) -> dict[str, int]:
    tables = ("campus_person_records", "campus_cards", "campus_units", "campus_sync_state", "load_log")
    return {t: conn.execute(f"select count(*) from raw.{t}").fetchone()[0] for t in tables}


def watermark(conn: psycopg.Connection) -> datetime | None:
    return conn.execute(
        "select max(watermark) from raw.campus_sync_state where hub = 'test-hub' and resource = 'persons'"
    ).fetchone()[0]


@pytest.mark.integration
def test_two_syncs_ask_only_for_changes_and_carry_a_deletion(
    conn: psycopg.Connection, warehouse_url: str, server: CampusServer, credentials: None, tmp_path: Path
) -> None:
    server.overlap = 1
    (first,) = campus_sync(warehouse_url, server, tmp_path)
    assert first.rows_loaded == 5 and first.rows_quarantined == 0
    assert counts(conn) == {
        "campus_person_records": 5,
        "campus_cards": 5,
        "campus_units": 2,
        "campus_sync_state": 4,
        "load_log": 1,
    }
    assert watermark(conn) == datetime(2025, 9, 5, 8, tzinfo=UTC)
    assert "updated_since" not in server.asked("persons")[0].params

    # between the two syncs: one person is deleted, another changes major
    server.add("persons", {"person_id": "S0002", "deleted": True, "updated_at": "2025-10-01T00:00:00Z"})
    server.add(
        "persons", record(3, "2025-10-02T00:00:00Z", major={"code": "CS02", "name": "计算机科学与技术"})
    )
    asked = len(server.requests)
    (second,) = campus_sync(warehouse_url, server, tmp_path)
    assert second.rows_loaded == 2
    since = {
        r.path: r.params.get("updated_since") for r in server.requests[asked:] if r.path != "/oauth/token"
    }
    assert since["/api/v1/persons"] == "2025-09-05T08:00:00Z"
    assert since["/api/v1/org_units"] == "2025-01-01T00:00:00Z"
    tombstone = conn.execute(
        "select deleted, person_type from raw.campus_person_records where person_key = %s "
        "order by updated_at desc limit 1",
        (pseudonym("person", "S0002"),),
    ).fetchone()
    assert tombstone == (True, None)
    assert watermark(conn) == datetime(2025, 10, 2, tzinfo=UTC)

    # nothing changed since: no file, no load, nothing moves
    before = counts(conn)
    assert campus_sync(warehouse_url, server, tmp_path) == []
    assert counts(conn) == before


@pytest.mark.integration
def test_a_failed_sync_applies_nothing_and_the_next_one_starts_from_the_same_watermark(
    conn: psycopg.Connection, warehouse_url: str, server: CampusServer, credentials: None, tmp_path: Path
) -> None:
    campus_sync(warehouse_url, server, tmp_path)
    before, mark = counts(conn), watermark(conn)
    for n in (6, 7, 8):
        server.add("persons", record(n, f"2025-10-0{n}T00:00:00Z"))
    server.fail("persons", page=2, truncate=True)
    with pytest.raises(CampusApiError, match="persons page 2"):
        campus_sync(warehouse_url, server, tmp_path)
    assert counts(conn) == before and watermark(conn) == mark

    asked = len(server.requests)
    (result,) = campus_sync(warehouse_url, server, tmp_path)
    assert result.rows_loaded == 3
    assert server.requests[asked + 1].params["updated_since"] == "2025-09-05T08:00:00Z"
    assert watermark(conn) == datetime(2025, 10, 8, tzinfo=UTC)


@pytest.mark.integration
def test_a_sync_whose_load_is_refused_keeps_the_watermark(
    conn: psycopg.Connection, warehouse_url: str, server: CampusServer, credentials: None, tmp_path: Path
) -> None:
    campus_sync(warehouse_url, server, tmp_path)
    before, mark = counts(conn), watermark(conn)
    for n in (6, 7):
        server.add("persons", record(n, f"2025-10-0{n}T00:00:00Z", person_type="robot"))
    with pytest.raises(LoadRejected):
        campus_sync(warehouse_url, server, tmp_path)
    assert counts(conn) == before and watermark(conn) == mark


@pytest.mark.integration
def test_credentials_and_direct_identifiers_never_reach_the_warehouse(
    conn: psycopg.Connection, warehouse_url: str, server: CampusServer, credentials: None, tmp_path: Path
) -> None:
    server.add("persons", record(9, "2025-10-09T00:00:00Z", person_type="robot"))  # to quarantine
    campus_sync(warehouse_url, server, tmp_path)
    dump = []
    for schema, table in conn.execute(
        "select schemaname, tablename from pg_tables where schemaname in ('raw', 'quarantine')"
    ).fetchall():
        dump += [str(v) for row in conn.execute(f'select * from {schema}."{table}"') for v in row]
    text = " ".join(dump)
    assert conn.execute("select count(*) from quarantine.rejected_rows").fetchone()[0] == 1
    for secret in (SECRET, server.client_id, "S0001", "S0009", "学生1", "13900000001", "2100000001", "s0001"):
        assert secret not in text


@pytest.mark.integration
def test_the_cli_syncs_the_campus_api(
    conn: psycopg.Connection,
    server: CampusServer,
    credentials: None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from urm.cli import app

    monkeypatch.setenv("URM_PSEUDONYM_KEY", TEST_KEY.decode())
    monkeypatch.setenv("URM_LANDING_DIR", str(tmp_path))
    runner = CliRunner()
    args = ["ingest", "campus", "--format", "campus-api", server.base_url, "--hub", "cli-hub", "--json"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout.strip().splitlines()[-1])
    assert report["rows_loaded"] == 5 and report["format"] == "campus-sync"
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "nothing new" in again.output
    assert SECRET not in first.output + again.output


def test_a_sync_of_units_alone_is_not_validated_as_an_empty_roster() -> None:
    from urm.steps.campus import to_validate

    results = [
        {"format": "campus-sync", "rows_loaded": 0, "batch_id": "a"},
        {"format": "campus-sync", "rows_loaded": 3, "batch_id": "b"},
        {"format": "campus-json", "rows_loaded": 0, "batch_id": "c"},
    ]
    assert [r["batch_id"] for r in to_validate(results)] == ["b", "c"]
