"""The library's items: numbered shelf by shelf, every attribute derived from the item number.

Deriving attributes from a keyed hash instead of storing them keeps a 1.5 million item collection
out of memory: loans look an item up by number and get the same barcode and call number that the
item files carry.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from dataclasses import dataclass

from urm_demo.synth.subjects import BOUND_PERIODICALS, LOCATIONS, SHELVES


@dataclass(frozen=True, slots=True)
class Item:
    number: int  # Koha itemnumber
    folio_id: str  # FOLIO item id
    barcode: str
    call_number: str
    itype: str  # Koha item type: BK book, CR bound periodical, TH thesis, VM media
    material: str  # FOLIO material type name
    branch: str
    location: str


def uuid4_text(random_bytes: bytes) -> str:
    """A version 4 UUID from 16 random bytes, as text (cheaper than building a uuid.UUID)."""
    h = random_bytes.hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:32]}"


MATERIALS = {"BK": "book", "CR": "bound periodical", "TH": "thesis", "VM": "video recording"}


class Collection:
    """Items 1..size, grouped by shelf; popular titles sit at the start of each shelf's range."""

    def __init__(self, seed: int, size: int) -> None:
        self.seed = seed
        total = sum(shelf.holdings for shelf in SHELVES)
        counts = [max(1, round(size * shelf.holdings / total)) for shelf in SHELVES]
        self.size = sum(counts)
        self.first: dict[str, int] = {}
        self.count: dict[str, int] = {}
        self._bounds: list[int] = []  # last item number of each shelf, for bisect
        number = 1
        for shelf, count in zip(SHELVES, counts, strict=True):
            self.first[shelf.key] = number
            self.count[shelf.key] = count
            number += count
            self._bounds.append(number - 1)

    def pick(self, rng: random.Random, shelf_key: str) -> int:
        """An item number on the shelf; squaring the draw makes a few titles far more popular."""
        return self.first[shelf_key] + int(self.count[shelf_key] * rng.random() ** 2.5)

    def item(self, number: int) -> Item:
        shelf = SHELVES[bisect.bisect_left(self._bounds, number)]
        digest = hashlib.blake2b(f"{self.seed}:{number}".encode(), digest_size=24).digest()
        folio_id = uuid4_text(digest[:16])
        h = int.from_bytes(digest[16:], "big")
        digits = 2 if len(shelf.key) > 1 and shelf.key[1].isdigit() else 3
        call_number = f"{shelf.key}{10 ** (digits - 1) + h % (9 * 10 ** (digits - 1))}"
        h //= 10**digits
        if h % 5 < 2:
            call_number += f".{1 + h // 5 % 99}"
        h //= 500
        call_number += f"/{1 + h % 999}"
        h //= 999
        kind = h % 100
        itype = "BK" if kind < 88 else "CR" if kind < 94 else "TH" if kind < 97 else "VM"
        language = "en" if h // 100 % 100 < 15 else "zh"
        location = BOUND_PERIODICALS if itype == "CR" else LOCATIONS[(shelf.branch, language)]
        return Item(
            number, folio_id, f"31{number:08d}", call_number, itype, MATERIALS[itype], shelf.branch, location
        )
