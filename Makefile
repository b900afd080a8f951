# The two commands a newcomer needs: `make demo` and `make test`. Both create .venv when missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
UV_VERSION := 0.13.8
# `make bench` runs this share of the reference university (65,000 people, 365 days)
BENCH_FRACTION ?= 0.1

.PHONY: demo test bench lint lock clean warehouse-stop

$(STAMP): pyproject.toml demo/pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -c constraints.txt -e '.[dev,demo]'
	@# Byte-compile once: where PYTHONDONTWRITEBYTECODE is set, every DAG process would otherwise
	@# recompile Airflow on start (importing it took 9.5-11.7 s instead of 4.5-4.9 s, load 5 on 2 cores).
	-@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib > /dev/null 2>&1  # a few py2-only files fail: harmless
	@touch $(STAMP)

# The dbt manifest the warehouse DAG is rendered from (Cosmos LoadMode.DBT_MANIFEST): rebuilt
# whenever a model, seed or macro changes.
MANIFEST := .urm/dbt/target/manifest.json
$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' 2>/dev/null)
	$(BIN)/python -m urm.platform.dbt > /dev/null

demo: $(STAMP) $(MANIFEST)  ## generate a synthetic university and run every DAG on the embedded PostgreSQL
	$(BIN)/urm demo

test: $(STAMP) $(MANIFEST)  ## the whole test suite (unit, integration, DAGs, end to end)
	$(BIN)/python -m pytest

bench: $(STAMP) $(MANIFEST)  ## the reference university (BENCH_FRACTION of it) and the EZproxy ingest bench
	$(BIN)/python -m bench.university --fraction $(BENCH_FRACTION) --output BENCHMARKS.md
	$(BIN)/python -m bench.ezproxy_ingest

lint: $(STAMP)  ## the checks `make test` also runs: ruff format, ruff, mypy, sqlfluff
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/sqlfluff lint dbt_project/models

lock:  ## re-resolve constraints.txt (only when pyproject.toml's dependencies change)
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev --extra demo --extra production \
		-c constraints.txt pyproject.toml | grep -v '^-e demo' > constraints.txt.new && mv constraints.txt.new constraints.txt

warehouse-stop: $(STAMP)
	$(BIN)/urm warehouse stop

clean:
	rm -rf $(VENV) .urm dbt_project/target dbt_project/logs

.PHONY: chromium
chromium:  ## optional: headless Chromium (Debian package) for the PDF report and the report's browser test
	apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei  # a CJK font for college names
