"""A local campus data hub that speaks the campus API contract, so that the demo and the tests use
the real connector (ingest.campus.api).

    with CampusServer({"persons": [...], "org_units": [...]}, port=0) as server:
        sync(CampusApiClient(server.base_url, CampusCredentials(server.client_id, server.client_secret)), ...)

POST /oauth/token (client credentials, HTTP Basic or form) gives a bearer token that expires
after `token_lifetime` seconds; GET /api/v1/{persons,org_units,majors,classes} serves the records
updated after `updated_since` (and not after the hub's clock, `now`), oldest first, by cursor
(`cursor`, `next_cursor`) or by page number (`page`).

It misbehaves on demand, for the tests: `fail(resource, status=503)`, `fail(resource,
status=429, retry_after=2)`, `fail(resource, delay=1.0)` (slower than the client's timeout),
`fail(resource, truncate=True)` (a page cut short), `fail(resource, garbage=True)` (not JSON),
`fail(resource, status=401)` and `expire_tokens()` (every issued token stops working),
`overlap = 1` (each page repeats the previous page's last record). `requests` records what was
asked (without credentials).
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

RESOURCES = ("persons", "org_units", "majors", "classes")
API_PREFIX = "/api/v1/"


@dataclass
class Fault:
    resource: str  # "token" for the token endpoint, "*" for any
    status: int | None = None
    retry_after: float | None = None
    delay: float = 0.0
    truncate: bool = False
    garbage: bool = False
    page: int | None = None  # only this page (1-based) of the resource; None: the next request
    body: Any = None  # what to answer instead of the usual error body


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    status: int = 0


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


class CampusServer:
    def __init__(
        self,
        resources: Mapping[str, Sequence[Mapping[str, Any]]],
        *,
        port: int = 0,
        client_id: str = "urm-library",
        client_secret: str | None = None,
        token_lifetime: float = 3600.0,
        now: datetime | None = None,
        max_page_size: int = 1000,
    ) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {
            r: [dict(x) for x in resources.get(r, ())] for r in RESOURCES
        }
        self.client_id = client_id
        self.client_secret = client_secret or "s3cret-" + secrets.token_hex(8)
        self.token_lifetime = token_lifetime
        self.now = now
        self.max_page_size = max_page_size
        self.overlap = 0
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.tokens: dict[str, float] = {}  # token -> monotonic expiry
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> CampusServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="campus-server")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- test controls ---------------------------------------------------------------------------

    def fail(self, resource: str, **how: Any) -> None:
        self.faults.append(Fault(resource, **how))

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def add(self, resource: str, record: Mapping[str, Any]) -> None:
        with self._lock:
            self.records[resource].append(dict(record))

    def asked(self, resource: str) -> list[Request]:
        return [r for r in self.requests if r.path == API_PREFIX + resource]

    # --- answers ---------------------------------------------------------------------------------

    def _fault(self, resource: str, page: int | None) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.resource in (resource, "*") and (fault.page is None or fault.page == page):
                    self.faults.remove(fault)
                    return fault
        return None

    def _token(self, headers: Any, body: bytes) -> tuple[int, Any]:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        client_id, secret = form.get("client_id"), form.get("client_secret")
        auth = headers.get("Authorization") or ""
        if auth.startswith("Basic "):
            try:
                pair = base64.b64decode(auth[6:]).decode()
                client_id, _, secret = pair.partition(":")
            except ValueError:
                return 400, {"error": "invalid_request"}
            from urllib.parse import unquote

            client_id, secret = unquote(client_id), unquote(secret)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.tokens[token] = time.monotonic() + self.token_lifetime
        return 200, {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}

    def _authorised(self, headers: Any) -> bool:
        auth = headers.get("Authorization") or ""
        if not auth.startswith("Bearer "):
            return False
        with self._lock:
            expiry = self.tokens.get(auth[7:])
        return expiry is not None and time.monotonic() < expiry

    def _page(self, resource: str, params: dict[str, str]) -> tuple[int, Any]:
        try:
            limit = min(int(params.get("limit", "100")), self.max_page_size)
        except ValueError:
            return 400, {"error": "limit must be a whole number"}
        since = params.get("updated_since")
        try:
            since_at = _instant(since) if since else None
        except ValueError:
            return 400, {"error": "updated_since must be ISO-8601"}
        with self._lock:
            rows = [
                r
                for r in self.records[resource]
                if (since_at is None or _instant(r["updated_at"]) > since_at)
                and (self.now is None or _instant(r["updated_at"]) <= self.now)
            ]
        key = "person_id" if resource == "persons" else "code"
        rows.sort(key=lambda r: (_instant(r["updated_at"]), str(r.get(key)), bool(r.get("deleted"))))
        if "page" in params:
            try:
                page = max(int(params["page"]), 1)
            except ValueError:
                return 400, {"error": "page must be a whole number"}
            offset = (page - 1) * limit
            chunk = rows[max(offset - self.overlap, 0) : offset + limit]
            return 200, {"data": chunk, "page": page, "total": len(rows)}
        cursor = params.get("cursor")
        try:
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
        except ValueError:
            return 400, {"error": "bad cursor"}
        start = max(offset - self.overlap, 0) if offset else 0
        chunk = rows[start : offset + limit]
        following = offset + limit
        next_cursor = (
            base64.urlsafe_b64encode(str(following).encode()).decode() if following < len(rows) else None
        )
        return 200, {"data": chunk, "next_cursor": next_cursor}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _send(self, status: int, body: Any, fault: Fault | None = None) -> None:
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                if fault is not None and fault.garbage:
                    data = b"<html><body>502 Bad Gateway (proxy)</body></html>"
                length = len(data)
                if fault is not None and fault.truncate:
                    data = data[: max(len(data) // 2, 1)]
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(length))
                if fault is not None and fault.retry_after is not None:
                    self.send_header("Retry-After", str(fault.retry_after))
                if fault is not None and fault.truncate:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                try:
                    self.wfile.write(data)
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _serve(self, resource: str, page: int | None, answer: Any) -> None:
                record = Request(self.command, urlsplit(self.path).path, self._params())
                server.requests.append(record)
                fault = server._fault(resource, page)
                if fault is not None and fault.delay:
                    time.sleep(fault.delay)
                if fault is not None and fault.status is not None:
                    record.status = fault.status
                    body = (
                        fault.body
                        if fault.body is not None
                        else {"error": "injected", "status": fault.status}
                    )
                    self._send(fault.status, body, fault)
                    return
                status, body = answer()
                record.status = status
                self._send(status, body, fault)

            def _params(self) -> dict[str, str]:
                return {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if urlsplit(self.path).path.rstrip("/") != "/oauth/token":
                    self._send(404, {"error": "not found"})
                    return
                self._serve("token", None, lambda: server._token(self.headers, body))

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                resource = path.removeprefix(API_PREFIX) if path.startswith(API_PREFIX) else None
                if resource not in RESOURCES:
                    self._send(404, {"error": "not found"})
                    return
                params = self._params()
                page = self._page_number(resource, params)

                def answer() -> tuple[int, Any]:
                    if not server._authorised(self.headers):
                        return 401, {"error": "invalid_token"}
                    return server._page(resource, params)

                self._serve(resource, page, answer)

            def _page_number(self, resource: str, params: dict[str, str]) -> int:
                if "page" in params:
                    return int(params["page"]) if params["page"].isdigit() else 0
                # cursor mode: count this resource's requests in the current sync by their cursor
                try:
                    limit = max(int(params.get("limit", "100")), 1)
                    cursor = params.get("cursor")
                    offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()) if cursor else 0
                except ValueError:
                    return 0
                return offset // limit + 1

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler
