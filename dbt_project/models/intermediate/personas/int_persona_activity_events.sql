-- Every use of the library by a known user, one row per event, from every source the persona
-- marts read: loans, e-resource sessions, visits and service participation. A use is something
-- the user did with the library: borrowing, a visit, an e-resource session, a booking they came
-- to, a training, a consultation, a volunteer shift. Feedback is participation but not use, and
-- a booking not turned up to is not use either: neither is here.
--   channel  physical (in the library or with its staff) or digital (e-resources, online services)
with

loans as (

    select * from {{ ref('fct_loans') }}
    where user_key is not null

),

sessions as (

    select * from {{ ref('fct_eresource_sessions') }}
    where user_key is not null

),

visits as (

    select * from {{ ref('int_persona_visits') }}
    where user_key is not null

),

participation as (

    select * from {{ ref('int_persona_participation') }}
    where
        user_key is not null
        and channel in ('physical', 'digital')
        and not coalesce(is_no_show, false)

),

unioned as (

    select
        user_key,
        'loan' as kind,
        'physical' as channel,
        null::text as site,
        loaned_at as activity_at
    from loans

    union all

    select
        user_key,
        'eresource_session' as kind,
        'digital' as channel,
        null::text as site,
        started_at as activity_at
    from sessions

    union all

    select
        user_key,
        'visit' as kind,
        'physical' as channel,
        site,
        entered_at as activity_at
    from visits

    union all

    select
        user_key,
        kind,
        channel,
        site,
        event_at as activity_at
    from participation

),

localised as (

    select
        *,
        activity_at at time zone '{{ var("library_timezone", "Asia/Shanghai") }}' as local_at
    from unioned
    where activity_at is not null

),

final as (

    select
        user_key::text as user_key,
        kind::text as kind,
        channel::text as channel,
        site::text as site,
        activity_at::timestamptz as activity_at,
        local_at::date as activity_date,
        date_trunc('month', local_at)::date as activity_month,
        extract(hour from local_at)::integer as local_hour,
        extract(isodow from local_at)::integer as local_isodow
    from localised

)

select * from final
