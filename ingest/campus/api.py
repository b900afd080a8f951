"""The campus data platform's HTTP API: an OAuth2 client-credentials token, then pages of records
changed since a watermark, for persons, org_units, majors and classes.

Default contract (every path and field name can be changed with a contract, see ApiContract):

    POST BASE_URL/oauth/token   grant_type=client_credentials (HTTP Basic client id and secret)
         -> {"access_token", "expires_in", "token_type": "Bearer"}
    GET  BASE_URL/api/v1/persons?updated_since=ISO-8601&limit=N&cursor=C   (Bearer token)
         -> {"data": [...], "next_cursor": "..." | null}
    ...  the same for org_units, majors and classes; or page-number pagination (&page=N).

`updated_since` asks for the records updated after the watermark. A person record is the
campus-json person plus updated_at, deleted (a tombstone: {"person_id", "deleted": true,
"updated_at"}), cards and roles. A hub that returns every change since the watermark gives the
full history; one that returns only the current state gives it at the frequency of the syncs.

Behaviour: the token is renewed before it expires and on a 401 (the request is then retried);
a 429 waits for Retry-After; 5xx answers, timeouts and dropped connections are retried with
exponential backoff, a bounded number of times. A page that is truncated or not JSON fails the
sync with a message naming the page. A sync writes nothing to the landing folder until every page
of every resource has arrived: the records land as one file (names and contact details left out),
loaded in one transaction with the new watermarks, so a failed sync leaves nothing half-applied
and the next one starts again from the last committed watermark. The client id, the secret and
the token never appear in a message.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingest.errors import InvalidOption, SourceUnavailable
from ingest.values import parse_instant

RESOURCES = ("persons", "org_units", "majors", "classes")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER_SECONDS = 300.0
# Renew a token this long before the expiry it announced (clocks and slow requests).
TOKEN_MARGIN_SECONDS = 30.0
SYNC_FORMAT_VERSION = 1


class CampusApiError(SourceUnavailable):
    """The campus API failed in a way the sync cannot work around: what, where, what to do."""


@dataclass(frozen=True)
class ApiContract:
    """Paths, parameters and field names of a campus data hub. The defaults are this platform's
    contract; a JSON object with some of these keys changes them for another hub (option
    --contract / URM_CAMPUS_API_CONTRACT), e.g. {"pagination": "page", "data_field": "items",
    "resources": {"persons": "/v2/people"}, "person_fields": {"person_id": "xh"}}."""

    token_path: str = "/oauth/token"
    # client_secret_basic (HTTP Basic header) or client_secret_post (in the form body)
    token_auth: str = "basic"
    scope: str | None = None
    token_field: str = "access_token"
    expires_in_field: str = "expires_in"
    resources: Mapping[str, str] = field(default_factory=lambda: {r: f"/api/v1/{r}" for r in RESOURCES})
    pagination: str = "cursor"  # cursor | page
    updated_since_param: str = "updated_since"
    limit_param: str = "limit"
    cursor_param: str = "cursor"
    page_param: str = "page"
    first_page: int = 1
    data_field: str = "data"
    next_cursor_field: str = "next_cursor"
    # Record fields as the hub names them: {our name: the hub's name}, applied before parsing.
    person_fields: Mapping[str, str] = field(default_factory=dict)
    unit_fields: Mapping[str, str] = field(default_factory=dict)
    # Direct identifiers nothing downstream reads: dropped before the sync's file is written, so
    # that the landing folder keeps no names or contacts either (ids are pseudonymised at load).
    drop_person_fields: tuple[str, ...] = (
        "name",
        "name_en",
        "email",
        "phone",
        "mobile",
        "national_id",
        "address",
        "birth_date",
        "date_of_birth",
        "personal",
    )

    @classmethod
    def from_option(cls, value: Any) -> ApiContract:
        """A contract from a JSON object, JSON text or the path of a JSON file (None: defaults)."""
        if value is None or value == "":
            return cls()
        if isinstance(value, Mapping):
            given = dict(value)
        else:
            text = str(value).strip()
            if not text.startswith("{"):
                path = Path(text)
                if not path.is_file():
                    raise InvalidOption(f"campus API contract {text!r}: no such file, and not a JSON object")
                text = path.read_text(encoding="utf-8")
            try:
                given = json.loads(text)
            except json.JSONDecodeError as err:
                raise InvalidOption(f"campus API contract: not JSON ({err.msg}, line {err.lineno})") from None
            if not isinstance(given, dict):
                raise InvalidOption("campus API contract: expected a JSON object of settings")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(given) - known)
        if unknown:
            raise InvalidOption(
                f"campus API contract: unknown setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}"
            )
        contract = cls()
        if "resources" in given:
            given["resources"] = {**contract.resources, **given["resources"]}
        if "drop_person_fields" in given:
            given["drop_person_fields"] = tuple(given["drop_person_fields"])
        contract = replace(contract, **given)
        if contract.pagination not in ("cursor", "page"):
            raise InvalidOption(
                f"campus API contract: pagination must be cursor or page, not {contract.pagination!r}"
            )
        if contract.token_auth not in ("basic", "body"):
            raise InvalidOption(
                f"campus API contract: token_auth must be basic or body, not {contract.token_auth!r}"
            )
        return contract


@dataclass(frozen=True)
class CampusCredentials:
    client_id: str = field(repr=False)
    client_secret: str = field(repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CampusCredentials:
        """URM_CAMPUS_CLIENT_ID / URM_CAMPUS_CLIENT_SECRET, else the Airflow connection
        urm_campus_api as Airflow passes it in the environment (AIRFLOW_CONN_URM_CAMPUS_API, a URI
        or JSON; login = client id, password = client secret)."""
        env = os.environ if environ is None else environ
        client_id = env.get("URM_CAMPUS_CLIENT_ID", "").strip()
        secret = env.get("URM_CAMPUS_CLIENT_SECRET", "").strip()
        if client_id and secret:
            return cls(client_id, secret)
        connection = env.get("AIRFLOW_CONN_URM_CAMPUS_API", "").strip()
        if connection:
            found = connection_credentials(connection)
            if found is not None:
                return found
        raise CampusApiError(
            "no campus API credentials: set URM_CAMPUS_CLIENT_ID and URM_CAMPUS_CLIENT_SECRET, or the "
            "Airflow connection urm_campus_api (login = client id, password = client secret)"
        )


def connection_credentials(value: str) -> CampusCredentials | None:
    """Client id and secret from an Airflow connection in URI or JSON form."""
    if value.startswith("{"):
        try:
            document = json.loads(value)
        except json.JSONDecodeError:
            return None
        login, password = document.get("login"), document.get("password")
    else:
        parts = urllib.parse.urlsplit(value)
        login = urllib.parse.unquote(parts.username or "")
        password = urllib.parse.unquote(parts.password or "")
    if login and password:
        return CampusCredentials(str(login), str(password))
    return None


def hub_name(base_url: str) -> str:
    """The hub a base URL names, for the watermarks: host and path, never user info or query."""
    parts = urllib.parse.urlsplit(base_url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{host}{port}{parts.path.rstrip('/')}"


@dataclass
class _Answer:
    status: int
    body: bytes
    headers: Any


def _retry_after(headers: Any) -> float | None:
    value = (headers or {}).get("Retry-After")
    if not value:
        return None
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER_SECONDS)
    except ValueError:
        pass
    try:  # an HTTP date
        from email.utils import parsedate_to_datetime

        moment = parsedate_to_datetime(value)
        return min(max((moment - datetime.now(UTC)).total_seconds(), 0.0), MAX_RETRY_AFTER_SECONDS)
    except (TypeError, ValueError):
        return None


class _Truncated(Exception):
    def __init__(self, received: int, expected: int | None) -> None:
        super().__init__(f"{received} of {expected} bytes" if expected else f"{received} bytes")


class CampusApiClient:
    """Token handling, retries and pagination; `pages(resource, since)` yields each page's records."""

    def __init__(
        self,
        base_url: str,
        credentials: CampusCredentials,
        contract: ApiContract | None = None,
        *,
        attempts: int = 5,
        backoff_seconds: float = 1.0,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise InvalidOption("attempts must be at least 1")
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidOption(f"{base_url!r} is not an http(s) URL: give the campus API's base URL")
        if parts.username or parts.password:
            raise InvalidOption(
                "the campus API URL carries user information: give the credentials in "
                "URM_CAMPUS_CLIENT_ID / URM_CAMPUS_CLIENT_SECRET, never in the URL"
            )
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.contract = contract or ApiContract()
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock
        self._token: str | None = None
        self._token_expires = 0.0
        self.tokens_issued = 0

    # --- what may be shown -------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """`text` without the client id, the secret or the token, whatever echoed them."""
        for secret in (self._token, self.credentials.client_secret, self.credentials.client_id):
            if secret:
                text = text.replace(secret, "***")
                quoted = urllib.parse.quote(secret, safe="")
                if quoted != secret:
                    text = text.replace(quoted, "***")
        return text

    def _said(self, answer: _Answer) -> str:
        start = " ".join(answer.body[:300].decode("utf-8", errors="replace").split())
        return self.scrub(start)

    # --- HTTP --------------------------------------------------------------------------------

    def _send(self, request: urllib.request.Request) -> _Answer:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                length = response.headers.get("Content-Length")
                try:
                    body = response.read()
                except http.client.IncompleteRead as err:
                    raise _Truncated(len(err.partial), int(length) if length else None) from None
                if length and length.isdigit() and len(body) < int(length):
                    raise _Truncated(len(body), int(length))
                return _Answer(response.status, body, response.headers)
        except urllib.error.HTTPError as err:
            try:
                body = err.read() or b""
            except (http.client.IncompleteRead, OSError):
                body = b""
            return _Answer(err.code, body, err.headers)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_seconds * 2 ** (attempt - 1)

    def _exchange(self, what: str, build: Callable[[], urllib.request.Request], *, auth: bool) -> _Answer:
        """Send with retries. `build` makes the request afresh (a renewed token goes in)."""
        renewed = False
        answer = _Answer(0, b"", None)
        attempt = 0
        while attempt < self.attempts:
            attempt += 1
            try:
                answer = self._send(build())
            except _Truncated as err:
                raise CampusApiError(
                    f"{what}: the answer was cut off ({err}); nothing of this sync was applied, run it again"
                ) from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException) as err:
                reason = getattr(err, "reason", err)
                if attempt == self.attempts:
                    raise CampusApiError(
                        f"{what}: no answer after {self.attempts} attempts "
                        f"({self.scrub(str(reason)) or type(err).__name__}); "
                        "check the URL and the network, then run the sync again"
                    ) from None
                self.sleep(self._backoff(attempt))
                continue
            if answer.status == 401 and auth and not renewed:
                # The token expired early or was revoked: one new token, the same request again.
                renewed = True
                self._token = None
                attempt -= 1
                continue
            if answer.status not in RETRY_STATUSES:
                return answer
            if attempt < self.attempts:
                wait = _retry_after(answer.headers) if answer.status == 429 else None
                self.sleep(wait if wait is not None else self._backoff(attempt))
        raise CampusApiError(
            f"{what}: HTTP {answer.status} after {self.attempts} attempts; "
            f"the server said {self._said(answer)!r}"
        )

    # --- the token ---------------------------------------------------------------------------

    def token(self) -> str:
        if self._token is None or self.clock() >= self._token_expires:
            self._token = None
            self._new_token()
        assert self._token is not None
        return self._token

    def _new_token(self) -> None:
        contract = self.contract
        url = self.base_url + "/" + contract.token_path.lstrip("/")
        form = {"grant_type": "client_credentials"}
        if contract.scope:
            form["scope"] = contract.scope
        headers = {"Accept": "application/json", "User-Agent": "library-urm-campus/1"}
        if contract.token_auth == "basic":
            pair = (
                urllib.parse.quote(self.credentials.client_id, safe="")
                + ":"
                + urllib.parse.quote(self.credentials.client_secret, safe="")
            )
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        else:
            form["client_id"] = self.credentials.client_id
            form["client_secret"] = self.credentials.client_secret
        body = urllib.parse.urlencode(form).encode()

        def build() -> urllib.request.Request:
            return urllib.request.Request(url, data=body, headers=headers, method="POST")

        answer = self._exchange(f"token request to {url}", build, auth=False)
        if answer.status in (400, 401, 403):
            raise CampusApiError(
                f"{url}: the campus API refused the client credentials (HTTP {answer.status}); check "
                "URM_CAMPUS_CLIENT_ID / URM_CAMPUS_CLIENT_SECRET or the Airflow connection urm_campus_api"
            )
        if not 200 <= answer.status < 300:
            raise CampusApiError(
                f"{url}: HTTP {answer.status} for the token; the server said {self._said(answer)!r}"
            )
        try:
            document = json.loads(answer.body)
            token = document[contract.token_field]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            raise CampusApiError(
                f"{url}: the token answer has no {contract.token_field!r}; check the contract's token_field"
            ) from None
        if not isinstance(token, str) or not token:
            raise CampusApiError(f"{url}: the token answer's {contract.token_field!r} is empty")
        try:
            lifetime = float(document.get(contract.expires_in_field) or 3600)
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._token = token
        self._token_expires = self.clock() + max(lifetime - min(TOKEN_MARGIN_SECONDS, lifetime / 10), 0.0)
        self.tokens_issued += 1

    # --- pages -------------------------------------------------------------------------------

    def page(self, what: str, path: str, params: Mapping[str, str]) -> Mapping[str, Any]:
        url = f"{self.base_url}/{path.lstrip('/')}?{urllib.parse.urlencode(params)}"

        def build() -> urllib.request.Request:
            return urllib.request.Request(
                url,
                headers={
                    "Accept": "application/json",
                    "User-Agent": "library-urm-campus/1",
                    "Authorization": f"Bearer {self.token()}",
                },
            )

        answer = self._exchange(f"{what} ({url})", build, auth=True)
        if answer.status in (401, 403):
            raise CampusApiError(
                f"{what} ({url}): HTTP {answer.status} even with a new token; check that the client "
                "may read this resource"
            )
        if not 200 <= answer.status < 300:
            raise CampusApiError(
                f"{what} ({url}): HTTP {answer.status}; the server said {self._said(answer)!r}"
            )
        try:
            document = json.loads(answer.body.decode("utf-8-sig"))
        except UnicodeDecodeError as err:
            raise CampusApiError(
                f"{what} ({url}): not UTF-8 text at byte {err.start}; nothing of this sync was applied"
            ) from None
        except json.JSONDecodeError as err:
            raise CampusApiError(
                f"{what} ({url}): the page is truncated or not JSON ({err.msg} at character {err.pos} of "
                f"{len(answer.body)} bytes); nothing of this sync was applied, run it again"
            ) from None
        data = document.get(self.contract.data_field) if isinstance(document, dict) else None
        if not isinstance(data, list):
            raise CampusApiError(
                f"{what} ({url}): expected an object with a {self.contract.data_field!r} list; "
                "check the contract's data_field"
            )
        return document

    def pages(
        self, resource: str, updated_since: datetime | None, limit: int
    ) -> Iterator[tuple[int, list[Any]]]:
        """(page number, records) of one resource, every page, in order."""
        contract = self.contract
        try:
            path = contract.resources[resource]
        except KeyError:
            raise InvalidOption(f"the contract names no path for resource {resource!r}") from None
        base: dict[str, str] = {contract.limit_param: str(limit)}
        if updated_since is not None:
            base[contract.updated_since_param] = (
                updated_since.astimezone(UTC).isoformat().replace("+00:00", "Z")
            )
        number = 0
        cursor: str | None = None
        page_number = contract.first_page
        seen_cursors: set[str] = set()
        while True:
            number += 1
            params = dict(base)
            if contract.pagination == "cursor":
                if cursor is not None:
                    params[contract.cursor_param] = cursor
            else:
                params[contract.page_param] = str(page_number)
            document = self.page(f"{resource} page {number}", path, params)
            data = list(document[contract.data_field])
            yield number, data
            if contract.pagination == "cursor":
                following = document.get(contract.next_cursor_field)
                if not following:
                    return
                following = str(following)
                if following in seen_cursors:
                    raise CampusApiError(
                        f"{resource} page {number}: the server sent a cursor it sent before; stopping "
                        "rather than looping (nothing of this sync was applied)"
                    )
                seen_cursors.add(following)
                cursor = following
            else:
                if len(data) < limit or not data:
                    return
                page_number += 1


# --- a sync: every page of every resource, then one landing file ---------------------------------


def _renamed(record: Any, names: Mapping[str, str]) -> Any:
    if not names or not isinstance(record, dict):
        return record
    renamed = dict(record)
    for ours, theirs in names.items():
        if theirs in renamed and ours != theirs:
            renamed[ours] = renamed.pop(theirs)
    return renamed


def _updated_at(record: Any) -> datetime | None:
    if not isinstance(record, dict):
        return None
    try:
        return parse_instant(record.get("updated_at"))
    except ValueError:
        return None


def _key(resource: str, record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    value = record.get("person_id" if resource == "persons" else "code")
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


@dataclass
class ResourceSync:
    resource: str
    updated_since: datetime | None
    watermark: datetime | None
    records: int = 0  # distinct records kept
    received: int = 0  # records as they came, repeats included
    pages: int = 0

    def header(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None

        return {
            "updated_since": iso(self.updated_since),
            "watermark": iso(self.watermark),
            "records": self.records,
            "received": self.received,
            "pages": self.pages,
        }


@dataclass
class SyncResult:
    hub: str
    path: Path | None  # None: nothing changed since the watermarks
    resources: list[ResourceSync]

    def describe(self) -> str:
        parts = [
            f"{r.resource}: {r.records} records in {r.pages} pages"
            + (f" (since {r.updated_since:%Y-%m-%dT%H:%M:%SZ})" if r.updated_since else " (full)")
            + (f", {r.received - r.records} repeats dropped" if r.received > r.records else "")
            for r in self.resources
        ]
        where = f"-> {self.path}" if self.path else "nothing changed"
        return f"campus API {self.hub}: " + "; ".join(parts) + f" {where}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "hub"


def sync(
    client: CampusApiClient,
    *,
    hub: str,
    landing_dir: Path,
    watermarks: Mapping[str, datetime | None] | None = None,
    resources: Sequence[str] = RESOURCES,
    page_size: int = 500,
) -> SyncResult:
    """Fetch every page of every resource updated since its watermark; write them as one landing
    file (campus/api/<hub>/sync-<digest>.jsonl) only when all arrived. A record repeated across
    pages (same key, same updated_at) is kept once."""
    watermarks = watermarks or {}
    if page_size < 1:
        raise InvalidOption("page_size must be at least 1")
    kept: dict[str, dict[tuple[Any, ...], Any]] = {}
    states: list[ResourceSync] = []
    for resource in resources:
        since = watermarks.get(resource)
        state = ResourceSync(resource, since, since)
        names = client.contract.person_fields if resource == "persons" else client.contract.unit_fields
        records = kept.setdefault(resource, {})
        for number, data in client.pages(resource, since, page_size):
            state.pages = number
            for position, raw in enumerate(data):
                record = _renamed(raw, names)
                if resource == "persons" and isinstance(record, dict):
                    record = {k: v for k, v in record.items() if k not in client.contract.drop_person_fields}
                state.received += 1
                updated = _updated_at(record)
                key = _key(resource, record)
                if key is None or updated is None:  # cannot tell a repeat: keep it, the parser judges it
                    records[("?", number, position)] = record
                    continue
                records[(key, updated)] = record
                if state.watermark is None or updated > state.watermark:
                    state.watermark = updated
        state.records = len(records)
        states.append(state)
    result = SyncResult(hub, None, states)
    if not any(kept.values()):
        return result
    lines = [
        json.dumps(
            {
                "campus_sync": SYNC_FORMAT_VERSION,
                "hub": hub,
                "resources": {s.resource: s.header() for s in states},
            },
            sort_keys=True,
        )
    ]
    for resource in resources:
        for _, record in sorted(kept[resource].items(), key=lambda item: _order(item[0])):
            lines.append(
                json.dumps({"resource": resource, "record": record}, ensure_ascii=False, sort_keys=True)
            )
    body = ("\n".join(lines) + "\n").encode("utf-8")
    folder = Path(landing_dir) / "campus" / "api" / _slug(hub)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"sync-{hashlib.sha256(body).hexdigest()[:16]}.jsonl"
    partial = path.with_suffix(".partial")
    partial.write_bytes(body)
    partial.replace(path)  # the landing pattern sees the whole file or nothing
    result.path = path
    return result


def _order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    if key[0] == "?":
        return (1, "", "", key[1], key[2])
    return (0, key[1].isoformat(), key[0], 0, 0)
