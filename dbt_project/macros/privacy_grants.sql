{#- Grants, applied by dbt at the end of every run (on-run-end in dbt_project.yml), so that what
    dbt just built is readable by exactly the roles that should read it, whatever existed before:
    - urm_bi and urm_exporter read marts (select only: no insert, update, delete or truncate) and
      nothing in staging, intermediate, raw, quarantine or restricted;
    - urm_transformer (dbt's role) reads staging, intermediate and marts;
    - PUBLIC reads nothing in staging and intermediate.
    One DO block, one statement: Cosmos runs dbt once per model, possibly in parallel, and
    concurrent GRANTs on one object fail in PostgreSQL, so the block takes a lock first. Roles that
    do not exist (an external warehouse that manages its own) are skipped. -#}
{% macro apply_privacy_grants() %}
do $privacy_grants$
declare
    reader text;
    internal text;
begin
    perform pg_advisory_xact_lock(hashtext('urm.privacy_grants'));
    foreach reader in array array['urm_bi', 'urm_exporter'] loop
        continue when not exists (select 1 from pg_roles where rolname = reader);
        execute format('grant usage on schema marts to %I', reader);
        execute format('grant select on all tables in schema marts to %I', reader);
        execute format(
            'revoke insert, update, delete, truncate, references, trigger on all tables in schema marts from %I',
            reader
        );
        foreach internal in array array['staging', 'intermediate', 'raw', 'quarantine', 'restricted'] loop
            continue when not exists (select 1 from pg_namespace where nspname = internal);
            execute format('revoke all on all tables in schema %I from %I', internal, reader);
            execute format('revoke all on schema %I from %I', internal, reader);
        end loop;
    end loop;
    foreach internal in array array['staging', 'intermediate'] loop
        continue when not exists (select 1 from pg_namespace where nspname = internal);
        execute format('revoke all on all tables in schema %I from public', internal);
        if exists (select 1 from pg_roles where rolname = 'urm_transformer') then
            execute format('grant usage on schema %I to urm_transformer', internal);
            execute format('grant select on all tables in schema %I to urm_transformer', internal);
        end if;
    end loop;
    if exists (select 1 from pg_roles where rolname = 'urm_transformer') then
        grant usage on schema marts to urm_transformer;
        grant select on all tables in schema marts to urm_transformer;
    end if;
end
$privacy_grants$
{% endmacro %}
