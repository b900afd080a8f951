"""The steps the DAGs run, as plain functions the CLI and tests call too."""
