"""Circulation source: loans and item records from the ILS (FOLIO or Koha)."""

from ingest.circulation.folio import parse_folio_items, parse_folio_loans
from ingest.circulation.koha import DEFAULT_TIMEZONE, parse_koha_items, parse_koha_statistics
from ingest.circulation.tables import FOLIO_LOANS, ILS_ITEMS, KOHA_STATISTICS
from ingest.model import Format, Option, Source

ENCODING = Option("encoding", "CSV encoding: auto, utf-8 or gb18030.", default="auto")
TIMEZONE = Option(
    "timezone",
    "Time zone of the export's local timestamps.",
    default=DEFAULT_TIMEZONE,
    env="URM_LIBRARY_TIMEZONE",
)

SOURCES = [
    Source(
        "circulation",
        "The ILS: loans, renewals and returns, and the item records they point at.",
        (
            Format(
                "circulation",
                "koha-items-csv",
                ILS_ITEMS,
                parse_koha_items,
                "CSV export of Koha's items table",
                options=(ENCODING,),
                landing=("circulation/koha/items.csv",),
            ),
            Format(
                "circulation",
                "koha-csv",
                KOHA_STATISTICS,
                parse_koha_statistics,
                "CSV export of Koha's statistics table (UTF-8 or GB18030)",
                options=(ENCODING, TIMEZONE),
                landing=("circulation/koha/statistics-*.csv",),
                identifier_fields=("borrowernumber", "cardnumber"),
            ),
            Format(
                "circulation",
                "folio-items-json",
                ILS_ITEMS,
                parse_folio_items,
                "FOLIO item records: {items: [...]} (call numbers give subject classes)",
                landing=("circulation/folio/items.json",),
            ),
            Format(
                "circulation",
                "folio-json",
                FOLIO_LOANS,
                parse_folio_loans,
                "FOLIO loan records: {loans: [...]}, an array, or one loan",
                landing=("circulation/folio/loans-*.json",),
                identifier_fields=("userId", "proxyUserId"),
            ),
        ),
        # A library runs one ILS: e.g. URM_CIRCULATION_FORMATS=folio-items-json,folio-json.
        select_env="URM_CIRCULATION_FORMATS",
    )
]
