# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8

.PHONY: demo test bench lint lock clean warehouse-stop

$(STAMP): pyproject.toml demo/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,demo]'
	@touch $(STAMP)

demo: $(STAMP)  ## generate a synthetic university and run every DAG on the embedded PostgreSQL
	$(BIN)/urm demo

test: $(STAMP)  ## the whole test suite (unit, integration, DAGs, end to end)
	$(BIN)/python -m pytest

bench: $(STAMP)  ## speed and memory benchmarks; results go to BENCHMARKS.md by hand
	$(BIN)/python -m bench.ezproxy_ingest

lint: $(STAMP)
	$(BIN)/ruff check ingest urm expectations dags tests
	$(BIN)/mypy ingest

lock:  ## re-resolve constraints.txt (only when pyproject.toml's dependencies change)
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev --extra demo --extra production \
		-c constraints.txt pyproject.toml | grep -v '^-e demo' > constraints.txt.new && mv constraints.txt.new constraints.txt

warehouse-stop: $(STAMP)
	$(BIN)/urm warehouse stop

clean:
	rm -rf $(VENV) .urm dbt_project/target dbt_project/logs
