"""Platform glue: settings, the warehouse (embedded or by URL), dbt and Airflow runners."""
