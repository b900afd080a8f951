-- A table rebuilt every time on top of the incremental int_eresource_sessions: attributing a
-- session to its user (int_identity_links, int_user_versions) is cheap at session grain, and a
-- roster change can re-attribute old sessions, which a full join always gets right.
with

sessions as (

    select * from {{ ref('int_eresource_sessions') }}

),

identity_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'login'

),

versions as (

    select * from {{ ref('int_user_versions') }}
    where not is_deleted

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
