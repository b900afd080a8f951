with

requests as (

    select * from {{ ref('int_eresource_requests_sessionised') }}

),

identity_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'login'

),

versions as (

    select * from {{ ref('int_user_versions') }}
    where not is_deleted

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

-- the login's holder when the session started, and who they were then
resolved as (

    select
        sessions.*,
        identity_links.user_key
    from sessions
    left join identity_links
        on
            sessions.login_key = identity_links.identifier_key
            and (identity_links.valid_from is null or sessions.started_at >= identity_links.valid_from)
            and (identity_links.valid_to is null or sessions.started_at < identity_links.valid_to)

),

final as (

    select
        resolved.session_id,
        resolved.user_key,
        resolved.platform,
        resolved.publisher,
        resolved.started_at,
        resolved.ended_at,
        resolved.requests,
        resolved.static_requests,
        resolved.denied_requests,
        resolved.on_campus,
        {{ local_date('resolved.started_at') }} as session_date,
        versions.user_type::text as user_type,
        {{ user_group('versions.user_type', 'versions.degree_level', 'versions.entry_year',
                      'versions.expected_graduation_year',
                      academic_year_of(local_date('resolved.started_at'))) }} as user_group,
        versions.college_code::text as college_code,
        versions.major_code::text as major_code,
        versions.class_code::text as class_code
    from resolved
    left join versions
        on
            resolved.user_key = versions.user_key
            and (versions.effective_from is null or resolved.started_at >= versions.effective_from)
            and (versions.effective_to is null or resolved.started_at < versions.effective_to)

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
    session_date,
    user_type,
    user_group,
    college_code,
    major_code,
    class_code
from final
