"""Campus roster source: students, faculty and staff from the campus data platform."""

from ingest.campus.campus_json import parse_campus_json
from ingest.campus.identities import roster_identities
from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.model import Format, Option, Source
from ingest.privacy.identity import record_identities

CAMPUS_JSON = Format(
    source="campus",
    name="campus-json",
    table=CAMPUS_PEOPLE,
    parse=parse_campus_json,
    description="Pages of the campus API: {snapshot_date, data: [person, ...]}",
    options=(Option("snapshot_date", "Roster snapshot date (YYYY-MM-DD) when the pages carry none."),),
    landing=("campus/*.json",),
    identifier_fields=(
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
    ),
    # Fills the identity vault (key rotation, erasure) and keeps erased people out.
    after_load=record_identities(roster_identities, CAMPUS_PEOPLE.name),
)

SOURCES = [
    Source("campus", "The campus data platform: who each user is.", (CAMPUS_JSON,)),
]
