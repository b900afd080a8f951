{#- The (login, platform) pairs that the new sessionised requests touch, and the earliest
    session those requests belong to: int_eresource_sessions recomputes its sessions from there. -#}
{% macro eresource_sessions_recomputed() -%}
    select
        login_key,
        platform,
        min(session_started_at) as recompute_from
    from {{ ref('int_eresource_requests_sessionised') }}
    where batch_id in ({{ incremental_new_batches(3, 'int_eresource_requests_sessionised') }})
    group by login_key, platform
{%- endmacro %}

{#- Pre-hook of int_eresource_sessions: delete the sessions that are recomputed. -#}
{% macro eresource_sessions_delete_recomputed() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as sessions
    using ({{ eresource_sessions_recomputed() }}) as recomputed
    where
        sessions.login_key = recomputed.login_key
        and sessions.platform = recomputed.platform
        and sessions.started_at >= recomputed.recompute_from
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
