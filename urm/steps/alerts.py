"""What every DAG shares for operations: retries with exponential backoff, and alerts when a task
fails for good, when a task is retried, or when a run misses its deadline.

A DAG adopts all of it with one line: `default_args=default_args()` (and, for the run deadline,
`**run_callbacks()` in the `@dag(...)` call).

Where alerts go is configured in the environment, never in code:
- `URM_ALERT_WEBHOOK`: an HTTP(S) URL that receives a JSON POST per alert (Slack/Teams/Mattermost
  incoming webhooks accept the `text` field; other receivers read the structured fields).
- `URM_ALERT_EMAIL`: comma-separated addresses, sent through Airflow's configured SMTP (`[smtp]`).
Neither set: alerts go to the task log only (the embedded demo). A failing alert never fails the
task it reports on.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from datetime import timedelta
from typing import Any

log = logging.getLogger(__name__)

# Retries with exponential backoff: 5 min, 10 min, 20 min, capped at one hour.
RETRIES = 3
RETRY_DELAY = timedelta(minutes=5)
MAX_RETRY_DELAY = timedelta(hours=1)

# The kinds of alert and what the operator should do about each: the README's "Operations" section
# repeats these; the message carries the hint so that the person paged does not need the README.
ALERTS = {
    "task_failed": "a task failed after every retry: read its log (link in the alert), fix the cause, "
    "then clear the task in the UI or `airflow tasks clear DAG -t TASK` to re-run it",
    "task_retry": "a task failed and will be retried with backoff: no action unless it fails for good",
    "run_failed": "a DAG run failed: see the failed task's alert; downstream Assets were not updated",
    "run_late": "a DAG run took longer than its deadline: check the scheduler and workers are up "
    "and not saturated (`urm status`, Airflow UI > Browse > Jobs)",
    "source_late": "a source has not delivered within its schedule: check the source system's export "
    "or the landing folder, then run `urm status` to confirm the load",
}


def default_args(**overrides: Any) -> dict[str, Any]:
    """The `default_args` every URM DAG uses: retries with exponential backoff and alert callbacks."""
    # URM_RETRY_DELAY_SECONDS shortens the first delay (tests, or a site that wants faster retries)
    delay = os.environ.get("URM_RETRY_DELAY_SECONDS")
    args: dict[str, Any] = {
        "owner": "urm",
        "retries": RETRIES,
        "retry_delay": timedelta(seconds=float(delay)) if delay else RETRY_DELAY,
        "retry_exponential_backoff": True,
        "max_retry_delay": MAX_RETRY_DELAY,
        "on_failure_callback": on_task_failure,
        "on_retry_callback": on_task_retry,
    }
    args.update(overrides)
    return args


def run_callbacks(deadline: timedelta | None = None) -> dict[str, Any]:
    """DAG-level callbacks (`@dag(**run_callbacks(...))`): an alert when a whole run fails and,
    given a deadline, an alert when a run is still not done that long after it was queued (Airflow
    3's Deadline Alerts, which replace the SLAs of Airflow 2; the triggerer runs the callback)."""
    callbacks: dict[str, Any] = {"on_failure_callback": on_run_failure}
    # URM_RUN_DEADLINES=0 leaves the deadline out: Airflow 3.3's `dag.test()` (the embedded demo)
    # fails on a DAG with a deadline alert; the scheduler (production, tests/test_scheduler.py) is fine.
    if deadline is not None and os.environ.get("URM_RUN_DEADLINES", "1") != "0":
        from airflow.sdk.definitions.callback import AsyncCallback
        from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

        callbacks["deadline"] = DeadlineAlert(
            reference=DeadlineReference.DAGRUN_QUEUED_AT,
            # a plain timedelta: Airflow serialises it, not pendulum's Duration subclass
            interval=timedelta(seconds=deadline.total_seconds()),
            callback=AsyncCallback(on_run_late, kwargs={"deadline": str(deadline)}),
        )
    return callbacks


def alert_targets() -> tuple[str | None, list[str]]:
    webhook = os.environ.get("URM_ALERT_WEBHOOK", "").strip() or None
    emails = [a.strip() for a in os.environ.get("URM_ALERT_EMAIL", "").split(",") if a.strip()]
    return webhook, emails


def send_alert(kind: str, subject: str, details: dict[str, Any]) -> dict[str, Any]:
    """Send one alert to the configured webhook and e-mail addresses; return the payload sent.

    Delivery errors are logged, never raised: an alert must not turn into a second failure.
    """
    payload = {
        "kind": kind,
        "subject": subject,
        "action": ALERTS.get(kind, ""),
        **details,
        "text": f"[library-urm] {subject}. What to do: {ALERTS.get(kind, 'see the log')}",
    }
    log.warning("URM alert %s: %s", kind, subject)
    webhook, emails = alert_targets()
    if webhook:
        try:
            request = urllib.request.Request(
                webhook,
                data=json.dumps(payload, default=str).encode(),
                headers={"Content-Type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except Exception as err:
            log.error("URM alert: webhook %s failed: %s", webhook, err)
    if emails:
        try:
            _send_email(emails, payload)
        except Exception as err:
            log.error("URM alert: e-mail to %s failed: %s", ", ".join(emails), err)
    return payload


def _send_email(to: list[str], payload: dict[str, Any]) -> None:
    from airflow.utils.email import send_email

    body = "<br>".join(f"<b>{k}</b>: {v}" for k, v in payload.items() if k != "text")
    send_email(to=to, subject=f"[library-urm] {payload['subject']}", html_content=body)


def _task_details(context: Any) -> dict[str, Any]:
    ti = context.get("task_instance") or context.get("ti")
    dag_run = context.get("dag_run")
    exception = context.get("exception")
    return {
        "dag_id": getattr(ti, "dag_id", None) or getattr(dag_run, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None) or getattr(dag_run, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "log_url": getattr(ti, "log_url", None),
        "error": str(exception)[:500] if exception else None,
    }


def on_task_failure(context: Any) -> None:
    d = _task_details(context)
    send_alert("task_failed", f"{d['dag_id']}.{d['task_id']} failed ({d['run_id']})", d)


def on_task_retry(context: Any) -> None:
    d = _task_details(context)
    send_alert("task_retry", f"{d['dag_id']}.{d['task_id']} will be retried (try {d['try_number']})", d)


async def on_run_late(context: Any = None, **kwargs: Any) -> None:
    """The deadline callback (runs in the triggerer, hence async): the run is late."""
    import asyncio

    context = context or {}
    dag_run = context.get("dag_run") if isinstance(context, dict) else None
    dag_id = getattr(dag_run, "dag_id", None) or (
        context.get("dag_id") if isinstance(context, dict) else None
    )
    details = {"dag_id": dag_id, "run_id": getattr(dag_run, "run_id", None), **kwargs}
    subject = f"DAG run {dag_id} missed its deadline ({kwargs.get('deadline')})"
    await asyncio.to_thread(send_alert, "run_late", subject, details)


def on_run_failure(context: Any) -> None:
    d = _task_details(context)
    reason = context.get("reason")
    send_alert("run_failed", f"DAG run {d['dag_id']} {d['run_id']} failed", {**d, "reason": reason})
