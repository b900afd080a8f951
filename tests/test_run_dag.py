"""urm.platform.run_dag: the DAG files and confs of one process's runs."""

from __future__ import annotations

import pytest

from urm.platform.run_dag import dag_runs, main


def test_each_dag_file_takes_the_json_conf_that_follows_it() -> None:
    argv = ["dags/a.py", "dags/b.py", '{"begin": "2025-09"}', "dags/c.py"]
    assert dag_runs(argv) == [("dags/a.py", None), ("dags/b.py", {"begin": "2025-09"}), ("dags/c.py", None)]


@pytest.mark.parametrize("argv", [['{"a": 1}', "dags/a.py"], ["dags/a.py", '{"a": 1}', '{"b": 2}']])
def test_a_conf_without_its_dag_file_is_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "must follow a DAG file" in capsys.readouterr().out
