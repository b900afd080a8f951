{#- Pre-hook of int_eresource_sessions: the sessions that the new sessionised requests recomputed
    (same (login, platform), began at or after the earliest session those requests belong to). -#}
{% macro eresource_sessions_delete_recomputed() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as sessions
    using (
        select
            login_key,
            platform,
            min(session_started_at) as recompute_from
        from {{ ref('int_eresource_requests_sessionised') }}
        where batch_id in ({{ incremental_new_batches(3, 'int_eresource_requests_sessionised') }})
        group by login_key, platform
    ) as recomputed
    where
        sessions.login_key = recomputed.login_key
        and sessions.platform = recomputed.platform
        and sessions.started_at >= recomputed.recompute_from
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
