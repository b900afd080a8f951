"""Circulation source: loans and item records from the ILS (FOLIO or Koha)."""

from ingest.circulation.folio import parse_folio_items, parse_folio_loans
from ingest.circulation.koha import parse_koha_items, parse_koha_statistics
from ingest.circulation.tables import FOLIO_LOANS, ILS_ITEMS, KOHA_STATISTICS
from ingest.model import Format

FORMATS: list[Format] = [
    Format(
        "circulation",
        "folio-json",
        FOLIO_LOANS,
        parse_folio_loans,
        "FOLIO loan records: {loans: [...]}, an array, or one loan",
    ),
    Format(
        "circulation",
        "koha-csv",
        KOHA_STATISTICS,
        parse_koha_statistics,
        "CSV export of Koha's statistics table (UTF-8 or GB18030)",
    ),
    Format(
        "circulation",
        "folio-items-json",
        ILS_ITEMS,
        parse_folio_items,
        "FOLIO item records: {items: [...]} (call numbers give subject classes)",
    ),
    Format(
        "circulation",
        "koha-items-csv",
        ILS_ITEMS,
        parse_koha_items,
        "CSV export of Koha's items table",
    ),
]
