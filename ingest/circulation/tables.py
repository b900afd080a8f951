"""Landing tables for circulation: FOLIO loans, Koha's statistics table, and item records."""

from ingest.model import RawTable

FOLIO_LOANS = RawTable(
    name="folio_loans",
    description="One row per FOLIO loan record (mod-circulation-storage loan JSON).",
    columns=(
        ("loan_id", "text"),
        ("patron_key", "text"),  # pseudonym of userId (kind patron); null = anonymised
        ("proxy_patron_key", "text"),  # pseudonym of proxyUserId
        ("item_id", "text not null"),
        ("action", "text not null"),
        ("status_name", "text"),
        ("item_status", "text"),
        ("loan_at", "timestamptz not null"),
        ("due_at", "timestamptz"),
        ("returned_at", "timestamptz"),
        ("renewal_count", "integer"),
        ("checkout_service_point_id", "text"),
        ("item_location_id", "text"),
    ),
)

KOHA_STATISTICS = RawTable(
    name="koha_statistics",
    description=(
        "One row per circulation event from an export of Koha's `statistics` table. Koha writes "
        "local time; the parser converts it with the library's time zone."
    ),
    columns=(
        ("event_at", "timestamptz"),  # Koha `datetime`; null when anonymised
        ("branch", "text"),
        ("value", "numeric"),
        ("type", "text not null"),  # issue | return | renew | localuse | writeoff | payment
        ("other", "text"),
        ("itemnumber", "text"),
        ("itemtype", "text"),
        ("location", "text"),
        ("patron_key", "text"),  # pseudonym of borrowernumber (kind patron)
        ("ccode", "text"),
        ("categorycode", "text"),
        ("interface", "text"),
        ("card_key", "text"),  # pseudonym of the card number when the export has one (kind card)
    ),
)

ILS_ITEMS = RawTable(
    name="ils_items",
    description="Item records (call numbers give the subject class), from Koha or FOLIO.",
    columns=(
        ("ils", "text not null"),  # koha | folio
        ("item_id", "text not null"),  # Koha itemnumber or FOLIO item id
        ("barcode", "text"),
        ("call_number", "text"),
        ("item_type", "text"),
        ("location", "text"),
    ),
)

EVERGREEN_CIRCULATIONS = RawTable(
    name="evergreen_circulations",
    description=(
        "One row per Evergreen circulation (action.circulation) as exported; a renewal is its own "
        "row pointing at the circulation it renews (parent_circ_id)."
    ),
    columns=(
        ("circ_id", "bigint not null"),  # action.circulation.id
        ("patron_key", "text"),  # pseudonym of usr (kind patron); null for aged circulations
        ("item_id", "text not null"),  # target_copy (asset.copy id)
        ("circ_lib", "text"),  # org unit of the checkout
        ("checkin_lib", "text"),
        ("copy_location", "text"),
        ("loan_at", "timestamptz not null"),  # xact_start
        ("due_at", "timestamptz"),  # due_date
        ("returned_at", "timestamptz"),  # checkin_time
        ("finished_at", "timestamptz"),  # xact_finish (the transaction closed: returned and paid)
        ("stop_fines", "text"),  # CHECKIN | RENEW | LOST | MAXFINES | CLAIMSRETURNED | ...
        ("stop_fines_at", "timestamptz"),
        ("renewal_remaining", "integer"),
        ("renewal_channel", "text"),  # desk | phone | opac | auto when this row is a renewal
        ("loan_duration", "text"),  # duration, a PostgreSQL interval as text ('14 days')
        ("parent_circ_id", "bigint"),  # the circulation this one renews
    ),
)
