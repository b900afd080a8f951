with

requests as (

    select * from {{ ref('int_eresource_requests_sessionised') }}

),

identity_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'login'

),

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

),

final as (

    select
        sessions.session_id,
        identity_links.user_key,
        sessions.platform,
        sessions.publisher,
        sessions.started_at,
        sessions.ended_at,
        sessions.requests,
        sessions.static_requests,
        sessions.denied_requests,
        sessions.on_campus,
        {{ local_date('sessions.started_at') }} as session_date
    from sessions
    left join identity_links
        on sessions.login_key = identity_links.identifier_key

)

select
    session_id,
    user_key,
    platform,
    publisher,
    started_at,
    ended_at,
    requests,
    static_requests,
    denied_requests,
    on_campus,
    session_date
from final
