{#-
  Incremental models read new rows by batch, not by event time: a late file carries old event
  times, and loads that overlap can commit out of finished_at order. The table
  intermediate.incremental_batches (created here by dbt's role, which may write intermediate but
  not raw) records, for each model of a chain, the batches it has taken in:

  - step 1 of a chain reads the landing table's batches that raw.load_log lists and it has not
    recorded; each later step reads the batches the step before it recorded and it has not;
  - a model rebuilds itself from scratch (truncate, then everything is new) when its records and
    its table disagree: rows but no record (a privacy step emptied the chain's records, the
    records table was lost), records but no row (PostgreSQL empties an unlogged table when it
    recovers from a crash; the chains' tables are unlogged, see macros/build_settings.sql), a recorded batch its upstream no longer has (a batch gone from the
    load log, the landing tables emptied, an upstream rebuilt), or, for step 1, a new batch that replaced rows of an
    earlier one (rows_replaced: the rest of a growing log's half-written last line);
  - so does a model whose fingerprint changed: a SQL expression over what its rows depend on
    besides the landing rows (the seeds that classify requests, the session gap), stored with
    its records;
  - a rebuild (or a --full-refresh) forgets the records of its own and later steps of the chain,
    so that every later step rebuilds too.
-#}

{% macro incremental_batches_ddl() -%}
    create table if not exists intermediate.incremental_batches (
        chain text not null,
        step integer not null,
        model text not null,
        upstream text not null,
        batch_id uuid not null,
        recorded_at timestamptz not null default now(),
        fingerprint text not null default '',
        primary key (model, batch_id)
    );
    alter table intermediate.incremental_batches add column if not exists fingerprint text not null default ''
{%- endmacro %}

{#- Batches of `upstream` (step 1: a landing table's name; else the model before) not yet taken in. -#}
{% macro incremental_new_batches(step, upstream) -%}
    {%- if step == 1 -%}
        select log.batch_id
        from raw.load_log as log
        where
            log.target_table = '{{ upstream }}'
            and not exists (
                select 1 from intermediate.incremental_batches as done
                where done.model = '{{ this.name }}' and done.batch_id = log.batch_id
            )
    {%- else -%}
        select before.batch_id
        from intermediate.incremental_batches as before
        where
            before.model = '{{ upstream }}'
            and not exists (
                select 1 from intermediate.incremental_batches as done
                where done.model = '{{ this.name }}' and done.batch_id = before.batch_id
            )
    {%- endif -%}
{%- endmacro %}

{#- Pre-hook: rebuild from scratch when the model's records cannot be trusted (see above). -#}
{% macro incremental_prepare(chain, step, upstream, fingerprint="''") -%}
    {#- the records table exists: dbt_project.yml's on-run-start creates it once per invocation,
        before any model runs (two chains' pre-hooks creating it at once on two threads could
        collide in PostgreSQL's catalog: `create table if not exists` is not safe concurrently) -#}
    {%- if is_incremental() %}
    do $prepare$
    begin
        if (
            exists (select 1 from {{ this }})
            and not exists (select 1 from intermediate.incremental_batches where model = '{{ this.name }}')
        ) or (
            -- records but no rows: an unlogged table (config unlogged) after a crash recovery
            not exists (select 1 from {{ this }})
            and exists (select 1 from intermediate.incremental_batches where model = '{{ this.name }}')
        ) or exists (
            select 1 from intermediate.incremental_batches
            where model = '{{ this.name }}' and fingerprint <> ({{ fingerprint }})
        ) or exists (
            select 1 from intermediate.incremental_batches as done
            where
                done.model = '{{ this.name }}'
                and not exists (
                    {%- if step == 1 %}
                    select 1 from raw.load_log as log where log.batch_id = done.batch_id
                    {%- else %}
                    select 1 from intermediate.incremental_batches as before
                    where before.model = '{{ upstream }}' and before.batch_id = done.batch_id
                    {%- endif %}
                )
        )
        {%- if step == 1 %}
        or exists (
            select 1 from raw.load_log as log
            where
                log.target_table = '{{ upstream }}'
                and log.rows_replaced > 0
                and not exists (
                    select 1 from intermediate.incremental_batches as done
                    where done.model = '{{ this.name }}' and done.batch_id = log.batch_id
                )
        )
        {%- endif %}
        then
            truncate {{ this }};
            {{ incremental_forget_downstream(chain) }};
        end if;
    end
    $prepare$
    {%- else %}
    {{ incremental_forget_downstream(chain) }}
    {%- endif %}
{%- endmacro %}

{#- The records of this model and of every model built from it, by the upstream each record
    names (transitively), so that they all rebuild: not every later step of the chain, since a
    chain branches (int_identifiers_monthly_ezproxy and the sessions both read the classified
    requests, and a rebuild of the sessions, which runs after the logins on the other thread,
    made the logins rebuild at the next build for nothing). A model with no records left is
    rebuilt anyway ("rows but no record"), and one whose upstream lost its records too (above). -#}
{% macro incremental_forget_downstream(chain) -%}
    delete from intermediate.incremental_batches
    where chain = '{{ chain }}' and model in (
        with recursive links as (
            select distinct model, upstream from intermediate.incremental_batches
            where chain = '{{ chain }}'
        ),
        below (model) as (
            select '{{ this.name }}'::text
            union
            select links.model from links inner join below on links.upstream = below.model
        )
        select model from below
    )
{%- endmacro %}

{#- Post-hook: record the batches taken in. Step 1 records the load-log batches that now have
    rows in the table (a batch committed while the model ran is left for the next build); a later
    step records what the step before it had recorded, which nothing else changes meanwhile. -#}
{% macro incremental_record(chain, step, upstream, fingerprint="''") -%}
    insert into intermediate.incremental_batches (chain, step, model, upstream, batch_id, fingerprint)
    select '{{ chain }}', {{ step }}, '{{ this.name }}', '{{ upstream }}', new.batch_id, ({{ fingerprint }})
    from ({{ incremental_new_batches(step, upstream) }}) as new
    {%- if step == 1 %}
    where exists (select 1 from {{ this }} as t where t.batch_id = new.batch_id)
    {%- endif %}
    on conflict do nothing
{%- endmacro %}

{#- Fingerprints of the e-resource chain: what classifies a request, and the session gap. -#}
{% macro eresource_classification_fingerprint() -%}
    (
        select md5(coalesce(string_agg(platforms::text, '|' order by platforms::text), ''))
        from {{ ref('eresource_platforms') }} as platforms
    ) || (
        select md5(coalesce(string_agg(networks::text, '|' order by networks::text), ''))
        from {{ ref('campus_networks') }} as networks
    )
{%- endmacro %}

{% macro eresource_session_fingerprint() -%}
    'gap_minutes={{ var("eresource_session_gap_minutes", 30) }}'
{%- endmacro %}
