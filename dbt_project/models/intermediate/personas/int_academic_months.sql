-- Every month of the persona period with its share of vacation days (seed academic_calendar).
-- A month with at least var vacation_month_min_share of its days in vacation is a vacation month:
-- a user's inactivity in it does not count towards at_risk or lapsed.
with

period as (

    select * from {{ ref('int_persona_period') }}

),

calendar as (

    select * from {{ ref('academic_calendar') }}

),

months as (

    select generate_series(first_month, last_month, interval '1 month')::date as month
    from period
    where first_month is not null

),

days as (

    select
        months.month,
        day::date as day
    from months
    cross join lateral generate_series(
        months.month, months.month + interval '1 month' - interval '1 day', interval '1 day'
    ) as day

),

vacation_days as (

    select distinct days.day
    from days
    inner join calendar
        on
            days.day between calendar.starts_on and calendar.ends_on
            and calendar.is_vacation

),

final as (

    select
        days.month,
        count(*)::integer as days_in_month,
        count(vacation_days.day)::integer as vacation_days,
        count(vacation_days.day) >= {{ var('vacation_month_min_share', 0.5) }} * count(*) as is_vacation_month
    from days
    left join vacation_days
        on days.day = vacation_days.day
    group by days.month

)

select * from final
