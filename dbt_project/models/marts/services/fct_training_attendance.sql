-- One row per registration for an information-literacy training session, with the session's
-- catalogue entry and whether the person attended (null while not recorded).
with

registrations as (

    select
        *,
        md5('registration|' || session_id || '|' || person_key) as registration_key
    from {{ ref('int_training_registrations_latest') }}

),

sessions as (

    select * from {{ ref('int_training_sessions_latest') }}

),

person_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'person'

),

final as (

    select
        registrations.registration_key::text as registration_key,
        person_links.user_key::text as user_key,
        sessions.session_id::text as session_id,
        sessions.series::text as series,
        sessions.topic::text as topic,
        sessions.level::text as level,
        sessions.session_start::timestamptz as session_start,
        {{ local_date('sessions.session_start') }} as session_date,
        {{ term_of_date(local_date('sessions.session_start')) }}::text as term,
        sessions.session_hours::numeric as session_hours,
        sessions.capacity::integer as capacity,
        registrations.registered_at::timestamptz as registered_at,
        registrations.attended::boolean as attended
    from registrations
    inner join sessions
        on registrations.session_id = sessions.session_id
    left join person_links
        on registrations.person_key = person_links.identifier_key

)

select
    registration_key,
    user_key,
    session_id,
    series,
    topic,
    level,
    session_start,
    session_date,
    term,
    session_hours,
    capacity,
    registered_at,
    attended
from final
