"""A small local COUNTER SUSHI R5.1 server, so that the demo and the tests use the real client.

    with SushiServer(usage, port=0) as server:
        harvest(server.base_url, platform="JSTOR", ...)

It serves /status, /members, /reports and /reports/{tr,dr,pr,ir} under `/r51`, checks the
credentials and answers the COUNTER exceptions a real server would: 1030 (missing customer id),
2000 (unknown requestor), 2010 (unknown customer), 2020 (bad API key), 3000 (unknown report),
3020 (bad dates), 3030 (no usage, e.g. a future month) and 3031 (some months not ready).
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from urm_demo.synth.counter import UsageRecord

REPORT_NAMES = {"tr": "Title Report", "dr": "Database Report", "pr": "Platform Report", "ir": "Item Report"}
NAME_FIELD = {"tr": "Title", "dr": "Database", "pr": "Platform"}
INSTITUTION = "Synthetic University Library"


def _exception(code: int, message: str, data: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"Code": code, "Message": message}
    if data:
        found["Data"] = data
    return found


def _month(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:7] + "-01")
    except ValueError:
        return None


def _last_day(month: date) -> date:
    following = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)


class SushiServer:
    """Serves `usage` (synthetic UsageRecords); assign `server.usage` to restate figures."""

    def __init__(
        self,
        usage: Sequence[UsageRecord],
        *,
        port: int = 0,
        customer_id: str = "urm-demo",
        requestor_id: str = "urm-harvester",
        api_key: str = "urm-demo-key",
        last_available_month: date | None = None,
        created: datetime | None = None,
    ) -> None:
        self.usage = list(usage)
        self.customer_id = customer_id
        self.requestor_id = requestor_id
        self.api_key = api_key
        months = [r.month for r in self.usage]
        self.last_available_month = last_available_month or (max(months) if months else None)
        self.created = created or datetime(2026, 1, 1, tzinfo=UTC)
        self.requests: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!r}:{port}/r51".replace("'", "")

    def __enter__(self) -> SushiServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True, name="sushi-server")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- answers -----------------------------------------------------------------------------

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        route = path.rstrip("/").removeprefix("/r51")
        if route == "/status":
            return 200, {
                "Description": "Synthetic university SUSHI service (COUNTER R5.1)",
                "Service_Active": True,
                "Note": "local test server",
            }
        refused = self._check_credentials(params)
        if refused:
            return refused
        if route == "/members":
            return 200, [{"Customer_ID": self.customer_id, "Institution_Name": INSTITUTION}]
        if route == "/reports":
            return 200, [
                {
                    "Report_Name": name,
                    "Report_ID": rid.upper(),
                    "Release": "5.1",
                    "Report_Description": name,
                    "Path": f"/r51/reports/{rid}",
                }
                for rid, name in REPORT_NAMES.items()
            ]
        if route.startswith("/reports/"):
            report = route.removeprefix("/reports/")
            if report not in REPORT_NAMES:
                return 404, _exception(3000, "Report Not Supported", report)
            return self._report(report, params)
        return 404, _exception(3000, "Report Not Supported", route)

    def _check_credentials(self, params: dict[str, str]) -> tuple[int, Any] | None:
        if not params.get("customer_id"):
            return 400, _exception(
                1030, "Insufficient Information to Process Request", "customer_id is missing"
            )
        if params.get("requestor_id") != self.requestor_id:
            return 401, _exception(2000, "Requestor Not Authorized to Access Service")
        if params.get("api_key") != self.api_key:
            return 401, _exception(2020, "APIKey Invalid")
        if params["customer_id"] != self.customer_id:
            return 403, _exception(
                2010, "Requestor is Not Authorized to Access Usage for Institution", params["customer_id"]
            )
        return None

    def _report(self, report: str, params: dict[str, str]) -> tuple[int, Any]:
        begin, end = _month(params.get("begin_date")), _month(params.get("end_date"))
        if begin is None or end is None or end < begin:
            return 400, _exception(
                3020,
                "Invalid Date Arguments",
                f"begin_date={params.get('begin_date')} end_date={params.get('end_date')}",
            )
        platform = params.get("platform")
        records = [
            r
            for r in self.usage
            if r.report_id == report.upper()
            and begin <= r.month <= end
            and (not platform or r.platform == platform)
        ]
        exceptions = []
        last = self.last_available_month
        if last is None or begin > last:
            exceptions.append(_exception(3030, "No Usage Available for Requested Dates"))
            records = []
        elif end > last:
            exceptions.append(
                _exception(
                    3031,
                    "Usage Not Ready for Requested Dates",
                    f"usage after {last:%Y-%m} is not processed yet",
                )
            )
            records = [r for r in records if r.month <= last]
        elif not records:
            exceptions.append(_exception(3030, "No Usage Available for Requested Dates"))
        header: dict[str, Any] = {
            "Report_Name": REPORT_NAMES[report],
            "Report_ID": report.upper(),
            "Release": "5.1",
            "Institution_Name": INSTITUTION,
            "Institution_ID": {"Proprietary": [f"URM:{self.customer_id}"]},
            "Report_Filters": {
                "Begin_Date": f"{begin:%Y-%m-%d}",
                "End_Date": _last_day(end).isoformat(),
                **({"Platform": platform} if platform else {}),
            },
            "Created": self.created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Created_By": "library-urm synthetic SUSHI server",
        }
        if exceptions:
            header["Exceptions"] = exceptions
        return 200, {"Report_Header": header, "Report_Items": self._items(report, records)}

    def _items(self, report: str, records: list[UsageRecord]) -> list[dict[str, Any]]:
        grouped: dict[tuple[Any, ...], dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
        for r in records:
            key = (
                r.platform,
                r.publisher,
                r.item_name,
                r.parent_title,
                r.data_type,
                r.proprietary_id,
                r.online_issn,
            )
            grouped[key][r.metric_type][f"{r.month:%Y-%m}"] = r.count
        items = []
        for (platform, publisher, name, parent, data_type, proprietary, issn), perf in grouped.items():
            item_id: dict[str, str] = {"Proprietary": proprietary}
            if issn:
                item_id["Online_ISSN"] = issn
            attribute_performance = [
                {"Data_Type": data_type, "Access_Method": "Regular", "Performance": perf}
            ]
            if report == "pr":
                items.append({"Platform": platform, "Attribute_Performance": attribute_performance})
                continue
            body = {
                "Publisher": publisher,
                "Platform": platform,
                "Item_ID": item_id,
                "Attribute_Performance": attribute_performance,
            }
            if report == "ir":
                items.append({"Title": parent, "Items": [{"Item": name, **body}]})
            else:
                items.append({NAME_FIELD[report]: name, **body})
        return items

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = {k: v[0] for k, v in parse_qs(parts.query).items()}
                server.requests.append(parts.path)
                status, body = server.answer(parts.path, params)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: tests and the demo print their own progress

        return Handler
