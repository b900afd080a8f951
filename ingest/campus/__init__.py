"""Campus roster source."""

from ingest.model import Format

FORMATS: list[Format] = []
