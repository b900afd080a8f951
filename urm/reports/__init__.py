"""Reports people read (static HTML, PDF through headless Chromium) and dbt's docs site."""
