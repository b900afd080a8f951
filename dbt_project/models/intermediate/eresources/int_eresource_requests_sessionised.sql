-- Requests of identified logins grouped into sessions: one login on one platform, a new
-- session after more than var('eresource_session_gap_minutes') (default 30) without a request.
-- Requests without a login cannot be attributed to a session and are left out here.
with

requests as (

    select * from {{ ref('int_eresource_requests_classified') }}
    where login_key is not null

),

gaps as (

    select
        *,
        lag(requested_at) over (
            partition by login_key, platform
            order by requested_at, request_id
        ) as previous_requested_at
    from requests

),

flagged as (

    select
        *,
        case
            when previous_requested_at is null then 1
            when
                requested_at - previous_requested_at
                > make_interval(mins => {{ var('eresource_session_gap_minutes', 30) }}) then 1
            else 0
        end as starts_session
    from gaps

),

numbered as (

    select
        *,
        sum(starts_session) over (
            partition by login_key, platform
            order by requested_at, request_id
            rows between unbounded preceding and current row
        ) as session_number
    from flagged

),

with_start as (

    select
        *,
        min(requested_at) over (
            partition by login_key, platform, session_number
        ) as session_started_at
    from numbered

),

final as (

    select
        -- the id depends on who, where and when the session began, not on a running number,
        -- so it survives reloads and the purge of older rows
        md5(login_key || '|' || platform || '|' || {{ epoch_text('session_started_at') }})
        as session_id,
        request_id,
        login_key,
        platform,
        publisher,
        platform_kind,
        request_class,
        on_campus,
        session_started_at,
        requested_at
    from with_start

)

select * from final
