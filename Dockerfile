# The one image every Airflow component runs in production (docker compose): the project, its
# pinned stack (constraints.txt) and the Celery provider. PostgreSQL and Redis are separate images.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 AIRFLOW_HOME=/opt/airflow
RUN useradd --create-home --uid 50000 airflow && mkdir -p /opt/airflow /opt/urm && chown airflow /opt/airflow /opt/urm
WORKDIR /opt/urm
COPY pyproject.toml constraints.txt README.md ./
COPY ingest ./ingest
COPY urm ./urm
COPY expectations ./expectations
RUN pip install --no-cache-dir uv==0.13.8 \
 && uv pip install --system --no-cache -c constraints.txt '.[production]'
COPY dags ./dags
COPY dbt_project ./dbt_project
COPY contracts ./contracts
USER airflow
ENV URM_HOME=/opt/airflow/urm URM_PROJECT_DIR=/opt/urm AIRFLOW__CORE__DAGS_FOLDER=/opt/urm/dags PYTHONPATH=/opt/urm
# The manifest the warehouse DAG renders from, built once here rather than at every DAG parse.
RUN python -m urm.platform.dbt
