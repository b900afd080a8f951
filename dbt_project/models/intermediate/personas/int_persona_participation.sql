-- Adapter: the library's services as its users take part in them, one row per event: space
-- bookings (with no-shows; cancelled ones are left out), training sessions attended,
-- consultations, volunteer shifts and feedback responses.
--   kind          booking | training | consultation | volunteering | feedback
--   channel       physical (at the library) | digital (online) | null (feedback: not a use)
--   is_no_show    bookings only: the user did not come
--   hours         volunteering hours (and, where known, the length of other events)
--   satisfaction  feedback only: the mean rating given in the response, 1 (poor) to 5 (excellent)
with

bookings as (

    select
        user_key,
        'booking' as kind,
        'physical' as channel,
        space_area as site,
        starts_at as event_at,
        booking_date as event_date,
        is_no_show,
        booked_minutes / 60.0 as hours,
        null::numeric as satisfaction
    from {{ ref('fct_space_bookings') }}
    where status <> 'cancelled'

),

training as (

    select
        user_key,
        'training' as kind,
        'physical' as channel,
        null::text as site,
        session_start as event_at,
        session_date as event_date,
        false as is_no_show,
        session_hours as hours,
        null::numeric as satisfaction
    from {{ ref('fct_training_attendance') }}
    where attended

),

consultations as (

    select
        user_key,
        'consultation' as kind,
        (case when channel = 'desk' then 'physical' else 'digital' end) as channel,
        null::text as site,
        asked_at as event_at,
        asked_date as event_date,
        false as is_no_show,
        null::numeric as hours,
        null::numeric as satisfaction
    from {{ ref('fct_consultations') }}

),

volunteering as (

    select
        user_key,
        'volunteering' as kind,
        'physical' as channel,
        null::text as site,
        activity_date::timestamp at time zone '{{ var("library_timezone", "Asia/Shanghai") }}' as event_at,
        activity_date as event_date,
        false as is_no_show,
        hours,
        null::numeric as satisfaction
    from {{ ref('fct_volunteer_hours') }}

),

feedback as (

    select
        user_key,
        'feedback' as kind,
        null::text as channel,
        null::text as site,
        min(submitted_at) as event_at,
        min(submitted_date) as event_date,
        false as is_no_show,
        null::numeric as hours,
        avg(score) filter (where question_type = 'rating') as satisfaction
    from {{ ref('fct_feedback') }}
    group by user_key, response_key

),

unioned as (

    select * from bookings
    union all
    select * from training
    union all
    select * from consultations
    union all
    select * from volunteering
    union all
    select * from feedback

),

final as (

    select
        user_key::text as user_key,
        kind::text as kind,
        channel::text as channel,
        site::text as site,
        event_at::timestamptz as event_at,
        event_date::date as event_date,
        is_no_show::boolean as is_no_show,
        hours::numeric as hours,
        satisfaction::numeric as satisfaction
    from unioned
    where user_key is not null

)

select * from final
