"""The demo: a synthetic university (people, circulation, proxy logs, COUNTER over SUSHI)
and `urm demo`, which runs every DAG on it. Installed with the `demo` extra; production
installs carry none of it."""
