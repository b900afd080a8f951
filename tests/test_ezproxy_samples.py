"""Conformance with ezPAARSE's expected parses of real EZproxy logs (../shared/samples).

For every line the peer accepted, our instant, user, host, status and size must agree. ezPAARSE
publishes hosts as md5 hex of the address it read, so hosts are compared through md5 of what our
LogFormat extracted; users are compared through our login pseudonym.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from ingest.ezproxy.logformat import DEFAULT_LOG_FORMAT, LogPattern
from ingest.ezproxy.parser import client_network, open_log, parse_ezproxy_log
from ingest.model import ParseContext, Rejected
from ingest.pseudonym import Pseudonymiser

from .conftest import TEST_KEY

# The LogFormat each file was written with, per ../shared/samples/README.md. Where the README
# says "then a digit / a session id / free text", the token is named with a placeholder field.
MULTIFORMAT = {
    "univ_lyon": DEFAULT_LOG_FORMAT,
    "univ_limoges": "%t %h %U",
    "univ_strasbourg": "%t %h %h %u %U %b %{ezproxy-session}i",
    "ul": '%h %u %{digit}e %t "%r" %s %b %{ezproxy-groups}i',
    "upmc": '%h %{ezproxy-session}i %u %t "%r" %s %b %{free-text}e',
    "univ_rennes1": '%h %{ezproxy-session}i %{session2}i %t "%r" %s %b %{ezproxy-groups}i',
}

pseudonym = Pseudonymiser(TEST_KEY).pseudonym


def parse(path: Path, log_format: str = DEFAULT_LOG_FORMAT) -> list:
    ctx = ParseContext(pseudonymiser=Pseudonymiser(TEST_KEY), options={"log_format": log_format})
    return list(parse_ezproxy_log(path, ctx))


def extracted_hosts(path: Path, log_format: str) -> dict[int, str]:
    """The %h text of each matching line, by line number (the parser keeps only its /24)."""
    pattern = LogPattern(log_format)
    with open_log(path) as handle:
        return {
            number: groups[pattern.index["h"]]
            for number, line in enumerate(handle, 1)
            if (groups := pattern.match(line.rstrip("\r\n")))
        }


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


@pytest.mark.parametrize("name", sorted(MULTIFORMAT))
def test_multiformat_logs_agree_with_ezpaarse(samples: Path, name: str) -> None:
    folder = samples / "ezproxy" / "ezpaarse" / "multiformat"
    log, log_format = folder / f"{name}.ezproxy.log", MULTIFORMAT[name]
    expected = json.loads((folder / f"{name}.ezproxy.result.json").read_text())
    items = parse(log, log_format)
    assert not [item for item in items if isinstance(item, Rejected)]
    assert len(items) == len(expected)
    hosts = extracted_hosts(log, log_format)
    for (line, values), peer in zip(items, expected, strict=True):
        requested_at, login_key, *_, status, size, _groups = values
        assert requested_at.timestamp() == peer["timestamp"]
        assert requested_at == datetime.fromisoformat(peer["datetime"])
        assert login_key == pseudonym("login", peer.get("login"))
        assert md5(hosts[line]) == peer["host"]
        assert status == (int(peer["status"]) if "status" in peer else None)
        assert size == (int(peer["size"]) if "size" in peer else None)


def test_sciencedirect_day_agrees_with_ezpaarse_csv(samples: Path) -> None:
    folder = samples / "ezproxy" / "ezpaarse"
    log = folder / "sd.2012-11-30.300.log"
    with open(folder / "sd.2012-11-30.300.csv", newline="") as handle:
        expected = list(csv.DictReader(handle, delimiter=";"))
    items = parse(log)
    assert not [item for item in items if isinstance(item, Rejected)]
    assert len(items) == len(expected) == 283
    hosts = extracted_hosts(log, DEFAULT_LOG_FORMAT)
    for (line, values), peer in zip(items, expected, strict=True):
        requested_at, login_key, network, _on_campus, _method, site_host, _path, status, size, _ = values
        assert requested_at == datetime.fromisoformat(peer["datetime"])
        assert login_key == pseudonym("login", peer["login"])
        assert hosts[line] == peer["host"] and network == client_network(peer["host"])
        assert (status, size) == (int(peer["status"]), int(peer["size"]))
        assert peer["url"].lower().startswith(f"http://{site_host}")


def test_quirky_files(samples: Path) -> None:
    folder = samples / "ezproxy" / "ezpaarse"

    def rejected_lines(name: str, log_format: str = DEFAULT_LOG_FORMAT) -> list[int]:
        return [i.line for i in parse(folder / name, log_format) if isinstance(i, Rejected)]

    assert rejected_lines("sd.wrong-first-line.log") == [1]
    assert rejected_lines("sd.wrong-second-line.log") == [2]
    for name in ("sd.mini.log", "sd.multiple-status.log", "oncampus.log", "cut.log"):
        assert rejected_lines(name) == [], name
    # Two client addresses: the first is the client's, and only its /24 is kept.
    [(_, cut)] = parse(folder / "cut.log")
    assert cut[2] == "172.28.4.0/24" and cut[5] == "pubs.acs.org"
    assert [values[7] for _, values in parse(folder / "sd.denied.log")] == [401, 403]
    # sd.duplicates.log is not in the default format (no %l, a session id, no size): with the
    # default every line is quarantined, with its real format none is and duplicates are kept.
    duplicates = folder / "sd.duplicates.log"
    line_count = sum(1 for _ in open_log(duplicates))
    assert rejected_lines("sd.duplicates.log") == list(range(1, line_count + 1))
    kept = parse(duplicates, '%h %u %{ezproxy-session}i %t "%r" %s')
    assert len(kept) == line_count and all(values[8] is None for _, values in kept)
