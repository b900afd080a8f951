"""Campus source: who each user is, from the campus data platform (its API, synced incrementally,
or its pages saved as files), the registrar's export, and FOLIO's user records.

Formats: `campus-api` syncs the API (OAuth2, pages changed since the watermark) into one landing
file per sync, loaded as `campus-sync`; `campus-json` reads roster pages; `registrar-csv` the
registrar's CSV or XLSX export; `folio-users` FOLIO's users (identifier links).
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ingest.campus.campus_json import campus_json_cards, parse_campus_json
from ingest.campus.folio_users import parse_folio_users
from ingest.campus.identities import roster_identities, sync_identities
from ingest.campus.person import DEFAULT_TIMEZONE
from ingest.campus.registrar import parse_registrar
from ingest.campus.sync_file import (
    after_campus_sync,
    campus_api_fetch,
    parse_campus_sync,
    prepare_campus_api,
)
from ingest.campus.tables import (
    CAMPUS_CARDS,
    CAMPUS_PEOPLE,
    CAMPUS_PERSON_RECORDS,
    CAMPUS_SYNC_STATE,
    CAMPUS_UNITS,
    FOLIO_USERS,
)
from ingest.model import FetchStep, Format, Option, ParseContext, Source
from ingest.privacy.identity import record_identities

AfterLoad = Callable[[Any, str, str, Path, ParseContext], list[str] | None]


def both(*hooks: AfterLoad) -> AfterLoad:
    """One after_load hook running several in turn, their warnings together."""

    def after_load(conn: Any, batch_id: str, label: str, path: Path, ctx: ParseContext) -> list[str]:
        warnings: list[str] = []
        for hook in hooks:
            warnings.extend(hook(conn, batch_id, label, path, ctx) or ())
        return warnings

    return after_load


SNAPSHOT_DATE = Option("snapshot_date", "Roster snapshot date (YYYY-MM-DD) when the file carries none.")
TIMEZONE = Option(
    "timezone",
    "Time zone of dates without a time (card validity, unit updates).",
    default=DEFAULT_TIMEZONE,
    env="URM_LIBRARY_TIMEZONE",
)
PERSON_IDENTIFIERS = (
    "person_id",
    "student_no",
    "staff_no",
    "card_number",
    "login",
    "koha_borrowernumber",
    "folio_user_id",
    "name",
    "email",
    "phone",
    "national_id",
)

CAMPUS_JSON = Format(
    source="campus",
    name="campus-json",
    table=CAMPUS_PEOPLE,
    parse=parse_campus_json,
    description="Pages of the campus API: {snapshot_date, data: [person, ...]}",
    options=(SNAPSHOT_DATE, TIMEZONE),
    landing=("campus/*.json",),
    identifier_fields=PERSON_IDENTIFIERS,
    extra_tables=(CAMPUS_CARDS,),
    # Cards to raw.campus_cards; the identity vault (key rotation, erasure) keeps erased people out.
    after_load=both(campus_json_cards, record_identities(roster_identities, CAMPUS_PEOPLE.name)),
)
CAMPUS_SYNC = Format(
    source="campus",
    name="campus-sync",
    table=CAMPUS_PERSON_RECORDS,
    parse=parse_campus_sync,
    description="What a campus-api sync wrote: person records, cards, units and watermarks (JSON Lines)",
    options=(TIMEZONE,),
    landing=("campus/api/*/*.jsonl",),
    identifier_fields=PERSON_IDENTIFIERS,
    extra_tables=(CAMPUS_CARDS, CAMPUS_UNITS, CAMPUS_SYNC_STATE),
    after_load=both(after_campus_sync, record_identities(sync_identities, CAMPUS_PERSON_RECORDS.name)),
)
CAMPUS_API = Format(
    source="campus",
    name="campus-api",
    table=CAMPUS_PERSON_RECORDS,
    parse=parse_campus_sync,
    description="sync the campus API (give its base URL): records changed since the watermark",
    options=(
        Option(
            "hub",
            "campus-api: name of the hub, keys its watermarks (default: host and path of the URL).",
            env="URM_CAMPUS_HUB",
        ),
        Option(
            "contract",
            "campus-api: JSON (or a JSON file) changing paths and field names for another hub.",
            env="URM_CAMPUS_API_CONTRACT",
        ),
        Option("pagination", "campus-api: cursor or page (overrides the contract)."),
        Option("page_size", "campus-api: records a page (the limit parameter).", type=int, default=500),
        Option(
            "resource",
            "campus-api: resources to sync (repeatable).",
            multiple=True,
            default=("persons", "org_units", "majors", "classes"),
        ),
        Option("updated_since", "campus-api: ask from this ISO-8601 instant instead of the watermark."),
        Option("full_sync", "campus-api: ignore the watermarks and fetch everything.", type=bool),
        TIMEZONE,
    ),
    identifier_fields=PERSON_IDENTIFIERS,
    fetch=FetchStep(
        campus_api_fetch,
        loads_as="campus-sync",
        target_help="Base URL of the campus data platform's API.",
        prepare=prepare_campus_api,
    ),
)
REGISTRAR_CSV = Format(
    source="campus",
    name="registrar-csv",
    table=CAMPUS_PEOPLE,
    parse=parse_registrar,
    description="The registrar's student export, CSV (UTF-8 or GB18030) or XLSX, Chinese headers by default",
    options=(
        SNAPSHOT_DATE,
        Option("encoding", "CSV encoding: auto, utf-8 or gb18030.", default="auto"),
        Option(
            "columns",
            'JSON (or a JSON file) mapping fields to the export\'s headers, e.g. {"person_id": "XH"}.',
        ),
        Option("sheet", "XLSX: the sheet to read (default: the first)."),
        TIMEZONE,
    ),
    landing=("campus/registrar/*.csv", "campus/registrar/*.xlsx"),
    identifier_fields=(
        "学号",
        "姓名",
        "身份证号",
        "手机号",
        "邮箱",
        "校园卡号",
        "一卡通号",
        "统一身份认证账号",
    ),
)
FOLIO_USERS_JSON = Format(
    source="campus",
    name="folio-users",
    table=FOLIO_USERS,
    parse=parse_folio_users,
    description="FOLIO user records (mod-users): {users: [...]}, an array, or one user",
    options=(TIMEZONE,),
    landing=("campus/folio/users*.json",),
    identifier_fields=("id", "barcode", "username", "externalSystemId", "personal"),
)

SOURCES = [
    Source(
        "campus",
        "The campus data platform: who each user is, and the identifiers they carry.",
        (CAMPUS_JSON, CAMPUS_SYNC, CAMPUS_API, REGISTRAR_CSV, FOLIO_USERS_JSON),
        # e.g. URM_CAMPUS_FORMATS=registrar-csv,folio-users
        select_env="URM_CAMPUS_FORMATS",
    ),
]
