"""Campus roster source: students, faculty and staff from the campus data platform."""

from ingest.campus.campus_json import parse_campus_json
from ingest.campus.tables import CAMPUS_PEOPLE
from ingest.model import Format

FORMATS: list[Format] = [
    Format(
        source="campus",
        name="campus-json",
        table=CAMPUS_PEOPLE,
        parse=parse_campus_json,
        description="Pages of the campus API: {snapshot_date, data: [person, ...]}",
    ),
]
