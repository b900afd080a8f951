"""ezproxy source: formats are registered in FORMATS."""

from ingest.model import Format

FORMATS: list[Format] = []
