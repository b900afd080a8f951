"""Ingest: parse source files, pseudonymise person identifiers, and load them with COPY.

Nothing in this package imports Airflow: DAG tasks, the `urm` CLI and the tests all call the same
functions. One module (or sub-package) per source system; `loader` is shared by all of them.
"""
