"""Landing table for the campus roster (students, faculty, staff)."""

from ingest.model import RawTable

CAMPUS_PEOPLE = RawTable(
    name="campus_people",
    description=(
        "One row per person per roster snapshot, from the campus data platform. Identifiers are "
        "pseudonyms; names, contact details and national ids are dropped at ingest."
    ),
    columns=(
        ("snapshot_date", "date"),
        ("person_key", "text not null"),  # pseudonym of the campus person id (kind person)
        ("card_key", "text"),  # pseudonym of the library card barcode (kind card)
        ("login_key", "text"),  # pseudonym of the proxy / SSO login (kind login)
        ("koha_patron_key", "text"),  # pseudonym of the Koha borrowernumber (kind patron)
        ("folio_patron_key", "text"),  # pseudonym of the FOLIO user id (kind patron)
        ("person_type", "text not null"),  # student | faculty | staff
        ("college_code", "text"),
        ("college_name", "text"),
        ("major_code", "text"),
        ("major_name", "text"),
        ("class_code", "text"),
        ("degree_level", "text"),  # bachelor | master | doctoral (students)
        ("entry_year", "integer"),
        ("expected_graduation_year", "integer"),
        (
            "enrollment_status",
            "text",
        ),  # enrolled | suspended | graduated | withdrawn | active | retired
        ("consent_profiling", "boolean not null"),
        ("consent_ranking", "boolean not null"),
    ),
)
