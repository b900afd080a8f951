"""Privacy and governance: key rotation, erasure, retention, the privacy suite's publishing gate
and the privacy report. The rules enforced at ingest (quarantine redaction, the key fingerprint,
the identity vault) live in ingest.privacy; the suite itself in expectations/privacy.py."""
