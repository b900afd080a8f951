"""Circulation source."""

from ingest.model import Format

FORMATS: list[Format] = []
