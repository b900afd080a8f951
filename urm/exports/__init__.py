"""Contracted exports: one YAML contract per consumer (contracts/), per-consumer pseudonyms,
atomic files with manifests, privacy check before publishing, suppression with a disclosure
ledger, and an audit trail in `restricted`."""
