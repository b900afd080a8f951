"""Outreach campaigns: YAML files under `campaigns/`, a segment over the persona marts, a seeded
control group, a contracted export of the treated group, and the record of who was targeted
when (raw.campaign_assignments), from which dbt builds campaign_results."""
