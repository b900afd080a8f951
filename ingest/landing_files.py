"""Writing into the landing folder without ever leaving half a file there.

A fetch step (a SUSHI harvest, an API sync) writes what it fetched under the landing folder,
where the next load picks files up by pattern. Written in place, a file cut short by a full disk
or a killed process would sit there looking like a real one. Here a file is written beside its
final name under a hidden temporary name, flushed to disk, then renamed over the final name in
one step: the landing folder holds the old file or the whole new one, never a part.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

from ingest.errors import LandingFull

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


def write_landing_file(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically; a full disk raises LandingFull and leaves nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with open(partial, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        if error.errno in _FULL:
            free = shutil.disk_usage(path.parent).free
            raise LandingFull(
                f"{path}: the landing folder's disk is full ({len(data):,} bytes to write, {free:,} free); "
                "nothing was written and nothing was loaded from it: free some space and run again"
            ) from error
        raise
    return path
