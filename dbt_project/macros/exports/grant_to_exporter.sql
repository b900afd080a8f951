{#- Post-hook of the models in the `exports` schema: the export role (urm_exporter) may read them,
    and nobody else (the BI role has no grant on the schema; PUBLIC loses its default usage).
    Skipped where the role does not exist (an external warehouse that manages its own). -#}
{% macro grant_to_exporter() %}
do $grant_to_exporter$
begin
    perform pg_advisory_xact_lock(hashtext('urm.privacy_grants'));
    execute 'revoke all on schema {{ this.schema }} from public';
    if exists (select 1 from pg_roles where rolname = 'urm_exporter') then
        execute 'grant usage on schema {{ this.schema }} to urm_exporter';
        execute 'grant select on {{ this }} to urm_exporter';
    end if;
    if exists (select 1 from pg_roles where rolname = 'urm_bi') then
        execute 'revoke all on {{ this }} from urm_bi';
    end if;
end
$grant_to_exporter$
{% endmacro %}
