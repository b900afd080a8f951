"""Landing tables for the campus data platform: roster snapshots, the API's change records, the
cards each person held (with their validity), the organisation (colleges, majors, classes), the
sync watermarks, and FOLIO's user records."""

from ingest.model import RawTable

CAMPUS_PEOPLE = RawTable(
    name="campus_people",
    description=(
        "One row per person per roster snapshot, from the campus data platform's pages or the "
        "registrar's export. Identifiers are pseudonyms; names, contact details and national ids "
        "are dropped at ingest."
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
        ("roles", "text[]"),  # research and leadership roles (principal_investigator, ...)
    ),
)

# The API's person records: each is the person's state as of updated_at, or a tombstone.
CAMPUS_PERSON_RECORDS = RawTable(
    name="campus_person_records",
    description=(
        "One row per person record the campus API delivered (its state as of updated_at), or a "
        "tombstone (deleted = true: the person left the roster at updated_at). Pseudonymous."
    ),
    columns=(
        ("hub", "text not null"),  # which campus data hub (a name, never a credential)
        ("updated_at", "timestamptz not null"),
        ("deleted", "boolean not null"),
        ("person_key", "text not null"),
        ("card_key", "text"),
        ("login_key", "text"),
        ("koha_patron_key", "text"),
        ("folio_patron_key", "text"),
        ("person_type", "text"),  # null on tombstones only
        ("college_code", "text"),
        ("college_name", "text"),
        ("major_code", "text"),
        ("major_name", "text"),
        ("class_code", "text"),
        ("degree_level", "text"),
        ("entry_year", "integer"),
        ("expected_graduation_year", "integer"),
        ("enrollment_status", "text"),
        ("consent_profiling", "boolean"),
        ("consent_ranking", "boolean"),
        ("roles", "text[]"),
    ),
)

CAMPUS_CARDS = RawTable(
    name="campus_cards",
    description=(
        "The library cards a person record lists, each with its validity period (a lost card ends "
        "when its replacement starts). Written with the person records, same batch."
    ),
    columns=(
        ("person_key", "text not null"),
        ("card_key", "text not null"),
        ("valid_from", "timestamptz"),  # null: valid since before the record
        ("valid_to", "timestamptz"),  # null: still valid; exclusive
        ("observed_at", "timestamptz"),  # updated_at of the record (null for snapshot pages)
    ),
)

CAMPUS_UNITS = RawTable(
    name="campus_units",
    description="Colleges and offices (org_unit), majors and classes, as the campus API lists them.",
    columns=(
        ("hub", "text not null"),
        ("kind", "text not null"),  # org_unit | major | class
        ("code", "text not null"),
        ("name", "text"),
        ("parent_code", "text"),  # org unit of a major, major (or org unit) of a class
        ("unit_type", "text"),  # college | office | ... (org units)
        ("updated_at", "timestamptz"),
        ("deleted", "boolean not null"),
    ),
)

CAMPUS_SYNC_STATE = RawTable(
    name="campus_sync_state",
    description=(
        "One row per resource of each committed campus API sync: the watermark it asked from and "
        "the one it reached. Written in the sync's own transaction, so a watermark never moves "
        "past data that did not commit."
    ),
    columns=(
        ("hub", "text not null"),
        ("resource", "text not null"),  # persons | org_units | majors | classes
        ("updated_since", "timestamptz"),  # null on the first sync
        ("watermark", "timestamptz"),  # the highest updated_at received (or updated_since)
        ("records", "integer not null"),
        ("pages", "integer not null"),
    ),
)

FOLIO_USERS = RawTable(
    name="folio_users",
    description=(
        "FOLIO user records (mod-users): the patron id with the card barcode, login and external "
        "person id it carries, all pseudonymised; names, addresses, phones and birth dates never land."
    ),
    columns=(
        ("patron_key", "text not null"),  # pseudonym of the FOLIO user id (kind patron)
        ("card_key", "text"),  # barcode (kind card)
        ("login_key", "text"),  # username (kind login)
        ("person_key", "text"),  # externalSystemId (kind person)
        ("user_kind", "text"),  # FOLIO type: patron, staff, shadow, system, dcb
        ("patron_group", "text"),  # FOLIO patron group id
        ("active", "boolean"),
        ("enrollment_date", "date"),
        ("expiration_date", "date"),
        ("updated_at", "timestamptz"),
    ),
)
