-- The library's day: one row per day of the persona period for the whole library (site `all`),
-- and one per day and site for the sources that record a site (visits, bookings, feedback).
-- Loans and e-resource sessions have no site in the data: they are on the `all` rows only.
-- Counts of persons here carry no attribute of anyone (no group, college or class), so they are
-- not suppressed: a count of three visitors on a Sunday tells nothing about who they were.
with

period as (

    select * from {{ ref('int_persona_period') }}

),

events as (

    select * from {{ ref('int_persona_activity_events') }}

),

loans as (

    select * from {{ ref('fct_loans') }}

),

sessions as (

    select * from {{ ref('fct_eresource_sessions') }}

),

visits as (

    select * from {{ ref('int_persona_visits') }}

),

participation as (

    select * from {{ ref('int_persona_participation') }}

),

days as (

    select generate_series(first_month, window_end_date, interval '1 day')::date as day
    from period
    where first_month is not null

),

sites as (

    select distinct site from visits
    where site is not null
    union
    select distinct site from participation
    where site is not null

),

-- occupancy: +1 when someone comes in, -1 when they leave (exits first at the same instant);
-- visits without a known exit (no left_at, no dwell time) are left out
occupancy_changes as (

    select
        site,
        entered_at as changed_at,
        1 as change
    from visits
    where coalesce(left_at, entered_at + dwell_minutes * interval '1 minute') is not null

    union all

    select
        site,
        coalesce(left_at, entered_at + dwell_minutes * interval '1 minute') as changed_at,
        -1 as change
    from visits
    where coalesce(left_at, entered_at + dwell_minutes * interval '1 minute') is not null

),

occupancy as (

    select
        site,
        {{ local_date('changed_at') }} as day,
        sum(change) over (
            partition by site
            order by changed_at, change rows between unbounded preceding and current row
        ) as site_occupancy,
        sum(change) over (
            order by changed_at, change rows between unbounded preceding and current row
        ) as library_occupancy
    from occupancy_changes

),

peaks as (

    select
        site,
        day,
        max(site_occupancy) as peak_occupancy
    from occupancy
    group by site, day

    union all

    select
        'all' as site,
        day,
        max(library_occupancy) as peak_occupancy
    from occupancy
    group by day

),

daily_visits as (

    select
        site,
        visit_date as day,
        count(*) as visits
    from visits
    group by site, visit_date

    union all

    select
        'all' as site,
        visit_date as day,
        count(*) as visits
    from visits
    group by visit_date

),

daily_loans as (

    select
        loan_date as day,
        count(*) as loans
    from loans
    group by loan_date

),

daily_sessions as (

    select
        session_date as day,
        count(*) as eresource_sessions
    from sessions
    group by session_date

),

daily_users as (

    select
        site,
        activity_date as day,
        count(distinct user_key) as active_users
    from events
    where site is not null
    group by site, activity_date

    union all

    select
        'all' as site,
        activity_date as day,
        count(distinct user_key) as active_users
    from events
    group by activity_date

),

daily_participation as (

    select
        site,
        event_date as day,
        count(*) filter (where kind = 'booking') as bookings,
        avg(satisfaction) filter (where kind = 'feedback') as average_satisfaction
    from participation
    where site is not null
    group by site, event_date

    union all

    select
        'all' as site,
        event_date as day,
        count(*) filter (where kind = 'booking') as bookings,
        avg(satisfaction) filter (where kind = 'feedback') as average_satisfaction
    from participation
    group by event_date

),

spine as (

    select
        days.day,
        'all' as site
    from days
    union all
    select
        days.day,
        sites.site
    from days cross join sites

),

final as (

    select
        spine.day::date as day,
        spine.site::text as site,
        coalesce(daily_visits.visits, 0)::bigint as visits,
        coalesce(peaks.peak_occupancy, 0)::bigint as peak_occupancy,
        (case when spine.site = 'all' then coalesce(daily_loans.loans, 0) end)::bigint as loans,
        (case
            when spine.site = 'all' then coalesce(daily_sessions.eresource_sessions, 0)
        end)::bigint as eresource_sessions,
        coalesce(daily_users.active_users, 0)::bigint as active_users,
        coalesce(daily_participation.bookings, 0)::bigint as bookings,
        round(daily_participation.average_satisfaction, 2)::numeric(4, 2) as average_satisfaction
    from spine
    left join daily_visits
        on spine.day = daily_visits.day and spine.site = daily_visits.site
    left join peaks
        on spine.day = peaks.day and spine.site = peaks.site
    left join daily_loans
        on spine.day = daily_loans.day
    left join daily_sessions
        on spine.day = daily_sessions.day
    left join daily_users
        on spine.day = daily_users.day and spine.site = daily_users.site
    left join daily_participation
        on spine.day = daily_participation.day and spine.site = daily_participation.site

)

select * from final
