"""The demo's outreach campaign, end to end, and the synthetic university's answer to it.

After the DAGs have built the marts, the demo writes one campaign file whose period runs from the
history's second week (its last month, for a long history) to its last day (for 40 days from 1
September: 8 September to 10 October), and whose segment is the students who never borrowed
before the period; it runs it as `urm campaign run` does (segment, seeded control group,
assignments recorded, treated group exported under the campaign_email_list contract, by student
number), and then lets the university respond: each student on the exported e-mail list borrows
a book on an open day of the period with probability LIFT (seeded, per student). Control students
never got the e-mail, so they do only what the world made them do anyway. The responses are
written as one more Koha statistics file and FOLIO loans file beside the generated ones, and the
circulation and warehouse DAGs run again to load them and rebuild campaign_results.

Why this design: the world only learns who was treated from what the library actually sent (the
contracted export), as a real campaign's recipients do, so the measured uptake is an honest test
of the campaign_results mart. The goal is first_loan: a treated student who would not have
borrowed for the first time in the period (probability 1 - control rate) is converted with
probability LIFT, so the expected treated-minus-control difference is LIFT x (1 - control rate)
(see expected_difference). The period starts a week into term so that enough control students
borrow for the first time on their own: a count of 1 to k-1 would be suppressed.

Same seed, same responses: a second demo run finds the groups recorded, exports the same list,
writes the same bytes, and the loader skips the files it has already loaded.
"""

from __future__ import annotations

import csv
import json
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from urm_demo.synth.academic_calendar import library_day
from urm_demo.synth.campus_history import build_campus_history
from urm_demo.synth.circulation import KOHA_HEADER, SERVICE_POINTS, _folio_time, _pick_shelf
from urm_demo.synth.generator import ITEMS_PER_USER
from urm_demo.synth.items import Collection, uuid4_text
from urm_demo.synth.people import build_roster

NAME = "demo_first_loan_outreach"
# The chance that the e-mail brings a treated student to borrow a book within the period.
LIFT = 0.4
CONTROL_SHARE = 0.5
CAMPAIGN = """# Written by the demo (urm_demo.campaign): its period is the last month of the history.
name: {name}
purpose: >
  Demo: students who had never borrowed before the period get an e-mail with their major's
  reading list; does it bring their first loan?
segment:
  - {{column: user_type, op: eq, value: student}}
  - {{column: loans_before_period, op: eq, value: 0}}   # never borrowed before the period
action:
  export: campaign_email_list
  channel: e-mail list
period:
  start: {start}
  end: {end}
goal: first_loan
control_share: {share}
"""


@dataclass(frozen=True)
class DemoCampaign:
    name: str
    period_start: date
    period_end: date
    lift: float


def demo_period(start: date, days: int) -> tuple[date, date]:
    """From the history's second week (its last month when longer) to its last day; the whole
    history when it is shorter than a week."""
    end = start + timedelta(days=days - 1)
    first = max(start + timedelta(days=7), end - timedelta(days=32))
    return (first if first <= end else start), end


def write_campaign_file(folder: Path, start: date, days: int, lift: float = LIFT) -> DemoCampaign:
    period_start, period_end = demo_period(start, days)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{NAME}.yml").write_text(
        CAMPAIGN.format(name=NAME, start=period_start, end=period_end, share=CONTROL_SHARE), encoding="utf-8"
    )
    return DemoCampaign(NAME, period_start, period_end, lift)


def expected_difference(lift: float, control_rate: float) -> float:
    """The treated-minus-control difference the world's lift produces in expectation."""
    return lift * (1 - control_rate)


def respond(
    sources: Path,
    email_list: Path,
    campaign: DemoCampaign,
    *,
    users: int,
    days: int,
    seed: int,
    start: date = date(2025, 9, 1),
) -> int:
    """Write the loans the e-mail brings (Koha statistics and FOLIO loans); return how many."""
    end = start + timedelta(days=days - 1)
    # student numbers are matched without regard to case (a campus may export them either way)
    people = {
        p.person_id.lower(): p for p in build_roster(random.Random(f"{seed}:roster"), users, start, end)
    }
    history = build_campus_history(list(people.values()), start, end, seed)
    collection = Collection(seed, users * ITEMS_PER_USER)
    with email_list.open(encoding="utf-8-sig", newline="") as handle:
        numbers = sorted(row["student_number"].lower() for row in csv.DictReader(handle))
    period = (
        campaign.period_start + timedelta(days=n)
        for n in range((campaign.period_end - campaign.period_start).days + 1)
    )
    open_days = [day for day in period if library_day(day).is_open]
    koha_rows, folio_loans = [], []
    for number in numbers:
        person = people.get(number)
        rng = random.Random(f"{seed}:campaign:{campaign.name}:{number}")
        if person is None or not open_days or rng.random() >= campaign.lift:
            continue
        day = rng.choice(open_days)
        hours = library_day(day)
        moment = datetime.combine(day, time(hours.open_hour)) + timedelta(
            seconds=rng.randrange(max(1, (hours.close_hour - hours.open_hour - 1) * 3600))
        )
        item = collection.item(collection.pick(rng, _pick_shelf(rng, person)))
        koha_rows.append(
            (
                moment.isoformat(" "),
                item.branch,
                "0.0000",
                "issue",
                "",
                str(item.number),
                item.itype,
                item.location,
                person.koha_borrowernumber,
                "",
                person.category,
                "intranet",
                history.card_at(person, moment),
            )
        )
        due = datetime.combine(day + timedelta(days=30), time(23, 59, 59))
        folio_loans.append(
            {
                "id": uuid4_text(rng.getrandbits(128).to_bytes(16, "big")),
                "userId": person.folio_user_id,
                "itemId": item.folio_id,
                "status": {"name": "Open"},
                "loanDate": _folio_time(moment, 0),
                "dueDate": _folio_time(due, 0),
                "action": "checkedout",
                "renewalCount": 0,
                "itemStatus": "Checked out",
                "checkoutServicePointId": SERVICE_POINTS[item.branch],
            }
        )
    koha_rows.sort()
    koha = sources / "circulation" / "koha" / f"statistics-campaign-{campaign.name}.csv"
    koha.parent.mkdir(parents=True, exist_ok=True)
    with koha.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, lineterminator="\n")
        writer.writerow(KOHA_HEADER)
        writer.writerows(koha_rows)
    folio = sources / "circulation" / "folio" / f"loans-campaign-{campaign.name}.json"
    folio.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(json.dumps(loan, ensure_ascii=False) for loan in folio_loans)
    folio.write_text(
        '{"loans": [' + ("\n" + body + "\n" if body else "") + f'], "totalRecords": {len(folio_loans)}}}\n',
        encoding="utf-8",
    )
    return len(koha_rows)


def run_demo_campaign(
    *,
    url: str,
    sources: Path,
    folder: Path,
    users: int,
    days: int,
    seed: int,
    start: date = date(2025, 9, 1),
    lift: float = LIFT,
) -> tuple[DemoCampaign, int]:
    """Write the demo's campaign file, run it (groups recorded, treated group exported), and write
    the university's responses into `sources`. The caller loads them (circulation and warehouse
    DAGs). Returns the campaign and how many responses were written."""
    from urm.campaigns.run import run_campaign

    campaign = write_campaign_file(folder, start, days, lift)
    result = run_campaign(campaign.name, url=url, campaigns_folder=folder)
    assert result.export is not None
    responses = respond(
        sources, Path(result.export.file), campaign, users=users, days=days, seed=seed, start=start
    )
    return campaign, responses
