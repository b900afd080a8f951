"""Platform glue for library-urm: settings, the embedded warehouse, the `urm` CLI and the
synthetic university. The real work lives in `ingest/`, `dbt_project/` and `expectations/`."""
