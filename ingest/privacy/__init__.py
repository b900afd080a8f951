"""Privacy rules enforced at ingest: quarantine without identifiers (`quarantine`), the pseudonym
key's fingerprint (`keys`), the identity vault that makes key rotation possible and keeps erased
people out of later loads (`identity`), and the tables these live in (`tables`).

This package declares no source (no SOURCES): the registry looks at it and moves on. It imports
nothing from `urm`, so the loader can call it.
"""
