"""Circulation source: loans and item records from the ILS (Koha, FOLIO or Evergreen)."""

from ingest.circulation.evergreen import parse_evergreen_circulations
from ingest.circulation.folio import parse_folio_items, parse_folio_loans
from ingest.circulation.koha import DEFAULT_TIMEZONE, parse_koha_items, parse_koha_statistics
from ingest.circulation.koha_copy import koha_statistics_copy
from ingest.circulation.koha_items_copy import koha_items_copy
from ingest.circulation.tables import EVERGREEN_CIRCULATIONS, FOLIO_LOANS, ILS_ITEMS, KOHA_STATISTICS
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
                copy_parser=koha_items_copy,
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
                copy_parser=koha_statistics_copy,
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
            Format(
                "circulation",
                "evergreen-circ",
                EVERGREEN_CIRCULATIONS,
                parse_evergreen_circulations,
                "Evergreen's action.circulation: a pg_dump COPY block (COPY text) or CSV with a header",
                landing=(
                    "circulation/evergreen/circulation-*.sql",
                    "circulation/evergreen/circulation-*.copy",
                    "circulation/evergreen/circulation-*.csv",
                ),
                identifier_fields=("usr", "circ_staff", "checkin_staff"),
            ),
        ),
        # A library runs one ILS: e.g. URM_CIRCULATION_FORMATS=folio-items-json,folio-json
        # (or evergreen-circ for Evergreen).
        select_env="URM_CIRCULATION_FORMATS",
    )
]
