"""A synthetic university: campus roster, circulation (Koha and FOLIO) and EZproxy logs.

`generate(out_dir, users=..., days=..., seed=...)` writes the files the ingest parsers read;
same arguments, same bytes. `campus_range()` gives the on-campus client address ranges.
"""

from urm_demo.synth.ezproxy import campus_range
from urm_demo.synth.generator import SynthSummary, generate

__all__ = ["SynthSummary", "campus_range", "generate"]
