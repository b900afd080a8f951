"""One exception tree for the whole platform.

`UrmError` is the root. A `UserError` is something the person running the command can fix (a
missing file, a wrong format, a threshold passed, the warehouse not answering, another load of
the same file running, a wrong key): its message is one line that says what happened and what to
do, and the CLI prints only that line (`--debug` adds the traceback). Anything else that escapes
is a bug and keeps its traceback.
"""

from __future__ import annotations


class UrmError(Exception):
    """Root of every error the platform raises on purpose."""


class UserError(UrmError):
    """A problem the user can act on; printed as one line, no traceback."""


class SourceFileMissing(UserError, FileNotFoundError):
    """A file named on the command line or expected in the landing folder is not there."""


class UnknownSource(UserError):
    """No registered source or format by that name."""


class InvalidOption(UserError):
    """An option or setting has a value the platform cannot use."""


class LoadRejected(UserError):
    """The share of bad rows passed the threshold; nothing of this file was loaded."""


class WarehouseUnreachable(UserError):
    """The warehouse (embedded or URM_WAREHOUSE_URL) did not answer."""


class LoadInProgress(UserError):
    """Another process is loading the same file into the same table."""


class KeyMismatch(UserError):
    """The pseudonym key differs from the one the warehouse was built with."""


class SourceUnavailable(UserError):
    """A remote source (an HTTP API, a SUSHI endpoint) failed after its retries."""


class WarehouseError(UserError):
    """The warehouse refused a statement for a reason the user can look into."""


class ColumnsChanged(UserError, ValueError):
    """A file's columns are not the ones its format reads (one renamed, or missing): refused
    whole, naming the columns, rather than loaded with a field silently empty."""


class FileRefused(UserError, ValueError):
    """A file that is not in its format at all (not JSON, no header...): nothing of it loads."""


class LandingFull(UserError, OSError):
    """The landing folder's disk is full: a fetched file could not be written whole."""
