-- What each user of the roster did in the persona window (var persona_window_days up to the
-- newest use in the data): the measures user_persona reports and scores. Every user of the
-- roster is here, with zeros when they did nothing; user_persona keeps consenting users.
with

period as (

    select * from {{ ref('int_persona_period') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

events as (

    select events.*
    from {{ ref('int_persona_activity_events') }} as events
    cross join period
    where events.activity_at >= period.window_start

),

all_loans as (

    select * from {{ ref('int_persona_loans') }}
    where user_key is not null

),

loans as (

    select all_loans.*
    from all_loans
    cross join period
    where all_loans.loaned_at >= period.window_start

),

visits as (

    select visits.*
    from {{ ref('int_persona_visits') }} as visits
    cross join period
    where
        visits.user_key is not null
        and visits.entered_at >= period.window_start

),

sessions as (

    select sessions.*
    from {{ ref('fct_eresource_sessions') }} as sessions
    cross join period
    where
        sessions.user_key is not null
        and sessions.started_at >= period.window_start

),

participation as (

    select participation.*
    from {{ ref('int_persona_participation') }} as participation
    cross join period
    where
        participation.user_key is not null
        and participation.event_at >= period.window_start

),

use_summary as (

    select
        user_key,
        count(*) as use_events,
        count(distinct activity_date) as active_days,
        count(distinct activity_date) filter (where local_isodow in (6, 7)) as weekend_active_days,
        count(*) filter (
            where local_hour >= {{ var('tag_night_owl_from_hour', 21) }}
            or local_hour < {{ var('tag_night_owl_until_hour', 6) }}
        ) as night_events,
        count(*) filter (where channel = 'physical') as physical_events,
        count(*) filter (where channel = 'digital') as digital_events,
        max(activity_date) as last_use_date
    from events
    group by user_key

),

-- where and when the user comes: visits when the gates record them, otherwise check-outs
visitors as (

    select distinct user_key
    from events
    where kind = 'visit'

),

presence as (

    select
        events.user_key,
        events.local_hour,
        events.local_isodow
    from events
    left join visitors
        on events.user_key = visitors.user_key
    where
        events.kind = 'visit'
        or (events.kind = 'loan' and visitors.user_key is null)

),

band_counts as (

    select
        user_key,
        {{ hour_band('local_hour') }} as hour_band,
        count(*) as uses,
        min(local_hour) as first_hour
    from presence
    group by user_key, {{ hour_band('local_hour') }}

),

preferred_band as (

    select
        user_key,
        hour_band as preferred_hour_band
    from (
        select
            band_counts.*,
            row_number() over (
                partition by user_key
                order by uses desc, first_hour asc
            ) as choice
        from band_counts
    ) as ranked
    where choice = 1

),

day_counts as (

    select
        user_key,
        local_isodow,
        count(*) as uses
    from presence
    group by user_key, local_isodow

),

preferred_day as (

    select
        user_key,
        {{ weekday_name('local_isodow') }} as preferred_weekday
    from (
        select
            day_counts.*,
            row_number() over (
                partition by user_key
                order by uses desc, local_isodow asc
            ) as choice
        from day_counts
    ) as ranked
    where choice = 1

),

loan_summary as (

    select
        loans.user_key,
        count(*) as loans,
        sum(loans.renewals) as renewals,
        count(*) filter (where loans.due_at is not null) as loans_with_due_date,
        count(*) filter (
            where loans.returned_at > loans.due_at
            or (loans.returned_at is null and loans.due_at < period.window_end)
        ) as overdue_loans,
        count(distinct loans.subject_class) as distinct_subject_classes
    from loans
    cross join period
    group by loans.user_key

),

class_counts as (

    select
        user_key,
        subject_class,
        row_number() over (
            partition by user_key
            order by count(*) desc, subject_class
        ) as class_rank
    from loans
    where subject_class is not null
    group by user_key, subject_class

),

top_classes as (

    select
        user_key,
        string_agg(
            subject_class, ','
            order by class_rank
        ) as top_subject_classes
    from class_counts
    where class_rank <= 3
    group by user_key

),

loan_history as (

    select
        user_key,
        max(greatest(loaned_at, returned_at)) as last_activity_at
    from all_loans
    group by user_key

),

visit_summary as (

    select
        user_key,
        count(*) as visits,
        coalesce(sum(dwell_minutes), 0) as dwell_minutes
    from visits
    group by user_key

),

session_summary as (

    select
        user_key,
        count(*) as eresource_sessions,
        count(distinct platform) as distinct_platforms,
        count(*) filter (where on_campus is not null) as located_sessions,
        count(*) filter (where not on_campus) as off_campus_sessions
    from sessions
    group by user_key

),

platform_counts as (

    select
        user_key,
        platform,
        count(*) as sessions
    from sessions
    group by user_key, platform

),

top_platform as (

    select
        user_key,
        platform as top_platform
    from (
        select
            platform_counts.*,
            row_number() over (
                partition by user_key
                order by sessions desc, platform asc
            ) as choice
        from platform_counts
    ) as ranked
    where choice = 1

),

participation_summary as (

    select
        user_key,
        count(*) filter (where kind = 'booking') as bookings,
        count(*) filter (where kind = 'booking' and is_no_show) as no_shows,
        count(*) filter (where kind = 'training') as trainings_attended,
        count(*) filter (where kind = 'consultation') as consultations,
        coalesce(sum(hours) filter (where kind = 'volunteering'), 0) as volunteer_hours,
        count(*) filter (where kind = 'feedback') as feedback_given,
        count(*) filter (
            where kind <> 'feedback' and not coalesce(is_no_show, false)
        ) as participation_events,
        count(distinct kind) filter (
            where kind <> 'feedback' and not coalesce(is_no_show, false)
        ) as participation_kinds
    from participation
    group by user_key

),

final as (

    select
        users.user_key::text as user_key,
        period.window_end_date::date as window_end_date,
        coalesce(loan_summary.loans, 0)::integer as loans,
        coalesce(loan_summary.renewals, 0)::integer as renewals,
        coalesce(loan_summary.loans_with_due_date, 0)::integer as loans_with_due_date,
        coalesce(loan_summary.overdue_loans, 0)::integer as overdue_loans,
        coalesce(loan_summary.distinct_subject_classes, 0)::integer as distinct_subject_classes,
        top_classes.top_subject_classes::text as top_subject_classes,
        loan_history.last_activity_at::timestamptz as last_activity_at,
        coalesce(visit_summary.visits, 0)::integer as visits,
        coalesce(visit_summary.dwell_minutes, 0)::integer as dwell_minutes,
        preferred_band.preferred_hour_band::text as preferred_hour_band,
        preferred_day.preferred_weekday::text as preferred_weekday,
        coalesce(session_summary.eresource_sessions, 0)::integer as eresource_sessions,
        coalesce(session_summary.distinct_platforms, 0)::integer as distinct_platforms,
        top_platform.top_platform::text as top_platform,
        coalesce(session_summary.located_sessions, 0)::integer as located_sessions,
        coalesce(session_summary.off_campus_sessions, 0)::integer as off_campus_sessions,
        coalesce(participation_summary.bookings, 0)::integer as bookings,
        coalesce(participation_summary.no_shows, 0)::integer as no_shows,
        coalesce(participation_summary.trainings_attended, 0)::integer as trainings_attended,
        coalesce(participation_summary.consultations, 0)::integer as consultations,
        coalesce(participation_summary.volunteer_hours, 0)::numeric as volunteer_hours,
        coalesce(participation_summary.feedback_given, 0)::integer as feedback_given,
        coalesce(participation_summary.participation_events, 0)::integer as participation_events,
        coalesce(participation_summary.participation_kinds, 0)::integer as participation_kinds,
        coalesce(use_summary.use_events, 0)::integer as use_events,
        coalesce(use_summary.physical_events, 0)::integer as physical_events,
        coalesce(use_summary.digital_events, 0)::integer as digital_events,
        coalesce(use_summary.active_days, 0)::integer as active_days,
        coalesce(use_summary.weekend_active_days, 0)::integer as weekend_active_days,
        coalesce(use_summary.night_events, 0)::integer as night_events,
        use_summary.last_use_date::date as last_use_date,
        (period.window_end_date - use_summary.last_use_date)::integer as days_since_last_use
    from users
    cross join period
    left join use_summary on users.user_key = use_summary.user_key
    left join preferred_band on users.user_key = preferred_band.user_key
    left join preferred_day on users.user_key = preferred_day.user_key
    left join loan_summary on users.user_key = loan_summary.user_key
    left join top_classes on users.user_key = top_classes.user_key
    left join loan_history on users.user_key = loan_history.user_key
    left join visit_summary on users.user_key = visit_summary.user_key
    left join session_summary on users.user_key = session_summary.user_key
    left join top_platform on users.user_key = top_platform.user_key
    left join participation_summary on users.user_key = participation_summary.user_key

)

select * from final
