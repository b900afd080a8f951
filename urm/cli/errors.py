"""How the CLI ends on an error: one line that says what to do, a non-zero exit, and the
traceback only with `urm --debug ...`."""

from __future__ import annotations

import traceback

import psycopg
import typer
from rich.console import Console

from ingest.errors import LoadInProgress, UserError, WarehouseUnreachable

USER_ERROR_EXIT = 2
BUG_EXIT = 1


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def is_cli_control(err: BaseException) -> bool:
    """Exit, Abort and usage errors of the command-line library: it prints those itself."""
    return type(err).__module__.split(".")[0] in {"typer", "click"}


def as_user_error(err: BaseException) -> UserError | None:
    """The user error an exception stands for, when it is one."""
    if isinstance(err, UserError):
        return err
    if isinstance(err, (psycopg.errors.DeadlockDetected, psycopg.errors.LockNotAvailable)):
        return LoadInProgress(
            "another process is writing the same tables right now; run the command again when it has finished"
        )
    if isinstance(err, psycopg.OperationalError) and not isinstance(err, psycopg.errors.QueryCanceled):
        return WarehouseUnreachable(
            f"cannot reach the warehouse ({_first_line(err)}); check URM_WAREHOUSE_URL or run "
            "`urm warehouse start`"
        )
    return None


def report_and_exit(err: BaseException, console: Console, *, debug: bool) -> None:
    """Print the error as one line (plus the traceback with --debug) and exit non-zero."""
    if debug:
        console.print("".join(traceback.format_exception(err)), markup=False, highlight=False, soft_wrap=True)
    user_error = as_user_error(err)
    if user_error is not None:
        console.print(f"[red]error:[/red] {_first_line(user_error)}", highlight=False, soft_wrap=True)
        raise typer.Exit(USER_ERROR_EXIT)
    where = "" if debug else " (run again with `urm --debug ...` for the traceback)"
    if isinstance(err, psycopg.Error):
        message = f"the warehouse refused it: {_first_line(err)}{where}"
    else:
        message = f"unexpected {type(err).__name__}: {_first_line(err)}{where}; please report it"
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(BUG_EXIT)
