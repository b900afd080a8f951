"""End to end: the demo (the shared `demo_run`) ran one outreach campaign after its DAGs, the
synthetic university answered the students on the exported e-mail list, and the warehouse was
rebuilt. campaign_results recovers the configured lift within its confidence interval; nobody
who opted out was targeted or recommended; running the campaign again changes nothing."""

from __future__ import annotations

import json

import psycopg
import pytest
from psycopg.rows import dict_row

from ingest.pseudonym import Pseudonymiser
from tests.conftest import TEST_KEY

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def opted_out_keys(demo_run: dict) -> set[str]:
    pseudonym = Pseudonymiser(TEST_KEY).pseudonym
    people = []
    for page in sorted((demo_run["sources"] / "campus").glob("people-*.json")):
        people.extend(json.loads(page.read_text(encoding="utf-8"))["data"])
    keys = {pseudonym("person", p["person_id"]) for p in people if not p["consent"]["profiling"]}
    assert keys
    return keys


def test_campaign_results_recover_the_synthetic_lift(demo_run: dict) -> None:
    from urm_demo.campaign import LIFT, NAME, expected_difference

    with psycopg.connect(demo_run["url"], autocommit=True, row_factory=dict_row) as conn:
        row = conn.execute("select * from marts.campaign_results where campaign = %s", (NAME,)).fetchone()
        counted = conn.execute(
            "select arm, count(*) as users from raw.campaign_assignments where campaign = %s group by 1",
            (NAME,),
        ).fetchall()
    arms = {r["arm"]: r["users"] for r in counted}
    assert row is not None and row["suppressed"] is None, row
    assert (row["treated_users"], row["control_users"]) == (arms["treated"], arms["control"])
    expected = expected_difference(LIFT, float(row["control_rate"]))
    assert float(row["ci_lower"]) <= expected <= float(row["ci_upper"]), row
    assert float(row["rate_difference"]) > 0
    responses = demo_run["sources"] / "circulation" / "koha" / f"statistics-campaign-{NAME}.csv"
    assert len(responses.read_text(encoding="utf-8").splitlines()) - 1 <= arms["treated"]


def test_opted_out_users_are_never_targeted_nor_recommended(demo_run: dict, opted_out_keys: set[str]) -> None:
    with psycopg.connect(demo_run["url"], autocommit=True) as conn:
        targeted = {r[0] for r in conn.execute("select user_key from raw.campaign_assignments")}
        recommended = {r[0] for r in conn.execute("select user_key from exports.reading_recommendations")}
        # built (at the demo's size, no item reaches k readers in one list: it may be empty)
        conn.execute("select count(*) from marts.reading_list_by_group").fetchone()
    assert targeted and recommended
    assert not targeted & opted_out_keys
    assert not recommended & opted_out_keys


def test_running_the_demo_campaign_again_changes_neither_groups_nor_files(demo_run: dict) -> None:
    from urm_demo.campaign import NAME

    from urm.campaigns.run import run_campaign
    from urm.platform.settings import urm_home

    query = "select * from raw.campaign_assignments where campaign = %s order by user_key"
    with psycopg.connect(demo_run["url"], autocommit=True) as conn:
        before = conn.execute(query, (NAME,)).fetchall()
        again = run_campaign(NAME, url=demo_run["url"], campaigns_folder=urm_home() / "demo" / "campaigns")
        assert conn.execute(query, (NAME,)).fetchall() == before
    assert not again.newly_recorded and again.export and again.export.row_count == again.treated
