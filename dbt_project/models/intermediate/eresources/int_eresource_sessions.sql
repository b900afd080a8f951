-- One row per e-resource session (one login on one platform), before it is attributed to a
-- user: the heavy aggregation of fct_eresource_sessions, kept incremental so that the mart only
-- joins sessions to int_identity_links and int_user_versions, as a table rebuilt every time (a
-- roster change can re-attribute old sessions; those joins are cheap at session grain).
--
-- Incremental (macros/incremental.sql): for each (login, platform) that the sessionised requests
-- of the new batches touch, the pre-hook deletes the sessions that began at or after the
-- earliest session those requests now belong to (int_eresource_requests_sessionised recomputed
-- everything from that point), and the model appends them again from the sessionised requests.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        unlogged=True,
        indexes=[
            {'columns': ['session_id'], 'unique': True},
            {'columns': ['login_key', 'platform', 'started_at']},
        ],
        pre_hook=[
            "{{ incremental_prepare('ezproxy', 3, 'int_eresource_requests_sessionised') }}",
            "{{ eresource_sessions_delete_recomputed() }}",
        ],
        post_hook=[
            "{{ incremental_record('ezproxy', 3, 'int_eresource_requests_sessionised') }}",
            "{{ enforce_columns(not_null=['session_id', 'login_key', 'platform', 'started_at']) }}",
        ],
    )
}}

with

{% if is_incremental() %}

    recomputed as (

        {{ eresource_sessions_recomputed() }}

    ),

    requests as (

        select sessionised.*
        from {{ ref('int_eresource_requests_sessionised') }} as sessionised
        inner join recomputed
            on
                sessionised.login_key = recomputed.login_key
                and sessionised.platform = recomputed.platform
                and sessionised.requested_at >= recomputed.recompute_from

    ),

{% else %}

    requests as (

        select * from {{ ref('int_eresource_requests_sessionised') }}

    ),

{% endif %}

sessions as (

    select
        session_id,
        login_key,
        platform,
        publisher,
        min(requested_at) as started_at,
        max(requested_at) as ended_at,
        count(*) filter (where request_class = 'use')::integer as requests,
        count(*) filter (where request_class = 'static')::integer as static_requests,
        count(*) filter (where request_class = 'denied')::integer as denied_requests,
        -- where the session began: people rarely change networks within half an hour
        (array_agg(
            on_campus
            order by requested_at, request_id
        ))[1] as on_campus
    from requests
    group by session_id, login_key, platform, publisher

)

select
    session_id,
    login_key,
    platform,
    publisher,
    started_at,
    ended_at,
    requests,
    static_requests,
    denied_requests,
    on_campus
from sessions
