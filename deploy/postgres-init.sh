#!/usr/bin/env bash
# First start of the production PostgreSQL: the Airflow metadata database, the warehouse database
# and a login role for the loader/dbt. `urm warehouse start` (airflow-init) then creates the
# schemas and the urm_bi / urm_loader group roles; grant urm_bi to your BI tool's login role.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username postgres <<SQL
create role airflow login password '${AIRFLOW_DB_PASSWORD}';
create database airflow owner airflow;
create role urm_loader_login login password '${URM_WAREHOUSE_PASSWORD}';
create database urm owner urm_loader_login;
SQL
