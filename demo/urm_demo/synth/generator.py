"""`generate()`: a whole synthetic university's source files, deterministic by seed.

Order matters for determinism only within a part: each part (roster, circulation, EZproxy) draws
from its own random stream, so changing one part's logic leaves the others' files unchanged.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path

from urm_demo.synth.academic_calendar import TIMEZONE
from urm_demo.synth.campus_history import CampusHistory, build_campus_history
from urm_demo.synth.circulation import CirculationSimulation
from urm_demo.synth.ezproxy import LOG_FORMATS, PLATFORM_HOSTS, EzproxySimulation, campus_range
from urm_demo.synth.gate import GateSimulation
from urm_demo.synth.items import Collection
from urm_demo.synth.people import FACULTY, STAFF, STUDENT, Person, build_roster
from urm_demo.synth.services import ServicesSimulation
from urm_demo.synth.writers import Manifest, open_text

PAGE_SIZE = 500
ITEMS_PER_USER = 22  # the brief asks for about 15-30 items per user

Progress = Callable[[str, int, int], None]


@dataclass
class SynthSummary:
    """What `generate` wrote: counts per file kind, and every file (relative to `out_dir`)."""

    out_dir: Path
    users: int
    days: int
    seed: int
    start: date
    end: date
    people: int = 0
    students: int = 0
    faculty: int = 0
    staff: int = 0
    items: int = 0
    loans: int = 0
    loans_open_at_end: int = 0
    koha_statistics_rows: int = 0
    koha_rows_by_type: dict[str, int] = field(default_factory=dict)
    folio_loans: int = 0
    ezproxy_lines: int = 0
    ezproxy_lines_by_site: dict[str, int] = field(default_factory=dict)
    gate_swipes: int = 0
    gate_visits: int = 0
    gate_cardless_visits: int = 0
    # rows per service file kind (space_bookings, training_registrations, ...)
    services: dict[str, int] = field(default_factory=dict)
    history_loans: int = 0
    files: list[dict[str, object]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, object]:
        skip = {"out_dir", "users", "days", "seed", "start", "end", "files"}
        return {key: value for key, value in asdict(self).items() if key not in skip}


def generate(
    out_dir: Path,
    *,
    users: int = 2000,
    days: int = 120,
    seed: int = 7,
    start: date = date(2025, 9, 1),
    on_progress: Progress | None = None,
    history_days: int = 0,
) -> SynthSummary:
    """Write a synthetic university's campus roster, circulation and EZproxy logs to `out_dir`.

    Same arguments, same bytes. `on_progress(stage, done, total)` is called as work advances
    (stages: roster, items, circulation, ezproxy, gate, services). `history_days` > 0 adds that many
    days of circulation history before the period's first month (see `history.py`).
    """
    if users < 10:
        raise ValueError(f"users={users}: give at least 10 people (every group needs someone)")
    if days < 1:
        raise ValueError(f"days={days}: give a period of at least one day")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    end = start + timedelta(days=days - 1)
    manifest = Manifest(out_dir)
    summary = SynthSummary(out_dir, users, days, seed, start, end)

    people = build_roster(random.Random(f"{seed}:roster"), users, start, end)
    _write_roster(out_dir, manifest, people, end, on_progress)
    summary.people = len(people)
    summary.students = sum(p.person_type == STUDENT for p in people)
    summary.faculty = sum(p.person_type == FACULTY for p in people)
    summary.staff = sum(p.person_type == STAFF for p in people)
    history = build_campus_history(people, start, end, seed, since=_history_start(start, history_days))
    _write_campus_hub(out_dir, manifest, history)

    collection = Collection(seed, users * ITEMS_PER_USER)
    _write_items(out_dir, manifest, collection, on_progress)
    summary.items = collection.size

    if history_days > 0:
        from urm_demo.synth.history import write_circulation_history

        summary.history_loans = write_circulation_history(
            people, collection, start, history_days, seed, out_dir, manifest, card_at=history.card_at
        )

    circulation = CirculationSimulation(
        people, collection, start, end, seed, out_dir, manifest, card_at=history.card_at
    )
    counts = circulation.run(on_progress)
    summary.loans = counts.loans
    summary.loans_open_at_end = counts.loans_open_at_end
    summary.koha_rows_by_type = dict(sorted(counts.koha_rows.items()))
    summary.koha_statistics_rows = manifest.rows("koha_statistics")
    summary.folio_loans = manifest.rows("folio_loans")

    lines = EzproxySimulation(people, start, end, seed, out_dir, manifest).run(on_progress)
    summary.ezproxy_lines_by_site = dict(lines)
    summary.ezproxy_lines = sum(lines.values())
    _write_json(out_dir / "ezproxy" / "logformats.json", LOG_FORMATS)
    _write_json(
        out_dir / "ezproxy" / "platform_hosts.json",
        {"platforms": PLATFORM_HOSTS, "campus_ranges": campus_range()},
    )
    manifest.add(out_dir / "ezproxy" / "logformats.json", "ezproxy_logformats")
    manifest.add(out_dir / "ezproxy" / "platform_hosts.json", "ezproxy_platform_hosts")

    gate = GateSimulation(people, start, end, seed, out_dir, manifest, card_at=history.card_at).run(
        on_progress
    )
    summary.gate_swipes, summary.gate_visits = gate.swipes, gate.visits
    summary.gate_cardless_visits = gate.cardless_visits
    ServicesSimulation(people, start, end, seed, out_dir, manifest).run(on_progress)
    summary.services = {
        kind: manifest.rows(kind)
        for kind in (
            "space_bookings",
            "training_registrations",
            "consultations",
            "feedback_responses",
            "volunteer_hours",
        )
    }

    summary.files = [asdict(record) for record in sorted(manifest.files, key=lambda r: r.path)]
    _write_json(
        out_dir / "manifest.json",
        {
            "generator": "urm_demo.synth",
            "args": {
                "users": users,
                "days": days,
                "seed": seed,
                "start": start.isoformat(),
                "history_days": history_days,
            },
            "period": {"first_day": start.isoformat(), "last_day": end.isoformat(), "timezone": TIMEZONE},
            "counts": summary.counts,
            "files": summary.files,
        },
    )
    return summary


def _write_json(path: Path, value: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def _write_roster(
    out_dir: Path, manifest: Manifest, people: list[Person], snapshot: date, on_progress: Progress | None
) -> None:
    """Pages of the campus API, one person a line so that a page diffs and greps well."""
    pages = max(1, -(-len(people) // PAGE_SIZE))
    for page in range(1, pages + 1):
        chunk = people[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        path = out_dir / "campus" / f"people-{page:04d}.json"
        following = f"people-{page + 1:04d}.json" if page < pages else None
        head = {
            "page": page,
            "page_size": PAGE_SIZE,
            "total": len(people),
            "next": following,
            "snapshot_date": snapshot.isoformat(),
        }
        record = manifest.add(path, "campus_people")
        with open_text(path) as stream:
            stream.write(json.dumps(head, ensure_ascii=False)[:-1] + ', "data": [\n')
            stream.write(
                ",\n".join(json.dumps(person.record(snapshot), ensure_ascii=False) for person in chunk)
            )
            stream.write("\n]}\n")
        record.rows = len(chunk)
        if on_progress:
            on_progress("roster", page, pages)


def _write_items(
    out_dir: Path, manifest: Manifest, collection: Collection, on_progress: Progress | None
) -> None:
    """The same items for both ILSs: Koha's items.csv and FOLIO's items.json."""
    koha_path = out_dir / "circulation" / "koha" / "items.csv"
    folio_path = out_dir / "circulation" / "folio" / "items.json"
    koha_record = manifest.add(koha_path, "koha_items")
    folio_record = manifest.add(folio_path, "folio_items")
    with open_text(koha_path) as koha, open_text(folio_path) as folio:
        writer = csv.writer(koha, lineterminator="\n")
        writer.writerow(("itemnumber", "barcode", "itemcallnumber", "itype", "homebranch", "location"))
        folio.write('{"items": [')
        step = max(1, collection.size // 20)
        for number in range(1, collection.size + 1):
            item = collection.item(number)
            writer.writerow(
                (item.number, item.barcode, item.call_number, item.itype, item.branch, item.location)
            )
            folio.write(
                ("\n" if number == 1 else ",\n")
                + json.dumps(
                    {
                        "id": item.folio_id,
                        "barcode": item.barcode,
                        "effectiveCallNumberComponents": {"callNumber": item.call_number},
                        "materialType": {"name": item.material},
                        "effectiveLocation": {"name": item.location},
                    },
                    ensure_ascii=False,
                )
            )
            if on_progress and number % step == 0:
                on_progress("items", number, collection.size)
        folio.write(f'\n], "totalRecords": {collection.size}}}\n')
    koha_record.rows = folio_record.rows = collection.size


def _write_campus_hub(out_dir: Path, manifest: Manifest, history: CampusHistory) -> None:
    """What the campus data hub holds (its change feed, org units, majors, classes), one record a
    line: the local campus API server (urm_demo.campus_server) serves these."""
    for resource, records in history.resources().items():
        path = out_dir / "campus_hub" / f"{resource}.jsonl"
        record = manifest.add(path, f"campus_hub_{resource}")
        with open_text(path) as stream:
            for item in records:
                stream.write(json.dumps(item, ensure_ascii=False, sort_keys=True) + "\n")
        record.rows = len(records)


def _history_start(start: date, history_days: int) -> date | None:
    """The first day of the circulation history before the period, if there is one."""
    if history_days <= 0:
        return None
    from urm_demo.synth.history import history_period

    return history_period(start, history_days)[0]
