{#- Settings and guarantees of the big incremental chains (issue #14): the e-resource requests
    and the gate swipes, a row per proxy line or swipe. -#}

{#- Pre-hook: memory for this model's sorts and index builds, for its own transaction only (`set
    local` ends with it; dbt runs the hook, the build and the post-hooks in one transaction). At a
    tenth of the reference university the sorts of the gate and e-resource chains spilled 90-360 MB
    to disk with the server's 32 MB; a build runs one model per dbt thread, two at most on two
    cores, so the backend of each stays well under the 1 GB a process may take. -#}
{% macro build_memory(work_mem='256MB') -%}
    set local work_mem = '{{ work_mem }}'
{%- endmacro %}

{#- Post-hook: NOT NULL and CHECK constraints on an incremental intermediate table, enforced by
    PostgreSQL as rows go in, instead of not_null and accepted_values tests that rescan every row
    of the history at every build. A full build checks the rows in one scan (one ALTER TABLE with
    every clause); an incremental build finds them in place (set not null on a column that has it
    is a no-op, a check is added only when missing), and every later insert is checked by the
    table. `checks` maps a constraint name to its boolean expression. -#}
{% macro enforce_columns(not_null=[], checks={}) -%}
    do $enforce$
    begin
        if exists (
            select 1
            from pg_attribute
            where
                attrelid = '{{ this }}'::regclass
                and attname in ({% for column in not_null %}'{{ column }}'{{ ", " if not loop.last }}{% endfor %})
                and not attnotnull
        ){% for name in checks %} or not exists (
            select 1 from pg_constraint
            where conrelid = '{{ this }}'::regclass and conname = '{{ name }}'
        ){% endfor %} then
            alter table {{ this }}
            {%- for column in not_null %}
                alter column {{ column }} set not null{{ "," if not loop.last or checks }}
            {%- endfor %}
            {%- for name, expression in checks.items() %}
                drop constraint if exists {{ name }},
                add constraint {{ name }} check ({{ expression }}){{ "," if not loop.last }}
            {%- endfor %};
        end if;
    end
    $enforce$
{%- endmacro %}

{#- The classes a request of int_eresource_requests_classified can have. -#}
{% macro eresource_request_class_check() -%}
    request_class in ('use', 'static', 'denied', 'error')
{%- endmacro %}

{#- Unlogged tables (config unlogged=True on the chains' models): their rows come again from the
    landing tables, so PostgreSQL writes no WAL for them (at a tenth of the reference university the
    chains' tables and indexes are 1.2 GB, every page of which went to the WAL as well; unlogged,
    the full builds of the three largest took 30-45 % less time in alternate runs). The price: a crash recovery empties them, and a physical
    standby does not have them. incremental_prepare rebuilds a table that has records but no rows,
    so the build after a crash is a full rebuild of the chain, not a silent gap. -#}
