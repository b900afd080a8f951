-- One row per user and month in which the user was on the roster (or used the library), from
-- the first month of the persona period to the newest: who the user was that month (the
-- attributes valid then, the group evaluated in that month's academic year) and how they used
-- the library. Every user of the roster is here, opted-out users included: aggregates count
-- them, individual marts filter them out.
--   A user's months start at their first roster month (valid_from) or at the period's start,
--   and end at the period's end, or, for users who left the roster (graduated, withdrawn), at
--   their last roster month (valid_to) or last use, whichever is later.
with

period as (

    select * from {{ ref('int_persona_period') }}

),

academic_months as (

    select * from {{ ref('int_academic_months') }}

),

attributes as (

    select * from {{ ref('int_persona_user_attributes') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

events as (

    select * from {{ ref('int_persona_activity_events') }}

),

visits as (

    select * from {{ ref('int_persona_visits') }}
    where user_key is not null

),

monthly_use as (

    select
        user_key,
        activity_month as month,
        count(distinct activity_date) as active_days,
        count(*) filter (where kind = 'loan') as loans,
        count(*) filter (where kind = 'visit') as visits,
        count(*) filter (where kind = 'eresource_session') as eresource_sessions,
        count(*) filter (where kind not in ('loan', 'visit', 'eresource_session')) as participation_events,
        bool_or(channel = 'physical') as used_physical,
        bool_or(channel = 'digital') as used_digital
    from events
    group by user_key, activity_month

),

monthly_dwell as (

    select
        user_key,
        date_trunc('month', visit_date)::date as month,
        sum(dwell_minutes) as dwell_minutes
    from visits
    group by user_key, date_trunc('month', visit_date)::date

),

use_span as (

    select
        user_key,
        min(month) as first_use_month,
        max(month) as last_use_month
    from monthly_use
    group by user_key

),

roster_span as (

    select
        user_key,
        case
            when bool_or(valid_from is null) then null
            else date_trunc('month', min(valid_from))::date
        end as roster_from_month,
        bool_or(valid_to is null and not left_roster) as is_on_roster,
        date_trunc('month', max(valid_to))::date as roster_to_month
    from attributes
    group by user_key

),

-- the consent flags travel with the user's span into the spine: joined in `final` instead, the
-- planner, which cannot estimate the spine-attributes join, guessed one row and scanned dim_user
-- once per user-month (a nested loop, quadratic in users: 60 s at 3,250 users)
user_span as (

    select
        roster_span.user_key,
        coalesce(users.consent_profiling, false) as consent_profiling,
        coalesce(users.consent_ranking, false) as consent_ranking,
        case
            when roster_span.roster_from_month is null then period.first_month
            else least(roster_span.roster_from_month, use_span.first_use_month)
        end as start_month,
        case
            when roster_span.is_on_roster then period.last_month
            -- greatest() ignores nulls: a withdrawn user without a date leaves after their last use
            else greatest(roster_span.roster_to_month, use_span.last_use_month)
        end as end_month
    from roster_span
    cross join period
    left join use_span
        on roster_span.user_key = use_span.user_key
    left join users
        on roster_span.user_key = users.user_key

),

spine as (

    select
        user_span.user_key,
        user_span.consent_profiling,
        user_span.consent_ranking,
        academic_months.month,
        academic_months.is_vacation_month
    from user_span
    inner join academic_months
        on academic_months.month between user_span.start_month and user_span.end_month

),

-- the attributes valid in the month: the latest period overlapping it; for a month outside every
-- period (a use before the roster's start or after its end) the nearest period
attributes_ranked as (

    select
        spine.user_key,
        spine.month,
        attributes.user_type,
        attributes.college,
        attributes.major,
        attributes.class_code,
        attributes.degree_level,
        attributes.entry_year,
        attributes.expected_graduation_year,
        attributes.is_vip,
        row_number() over (
            partition by spine.user_key, spine.month
            order by
                (
                    coalesce(
                        attributes.valid_from <= (spine.month + interval '1 month' - interval '1 day')::date,
                        true
                    )
                    and coalesce(attributes.valid_to >= spine.month, true)
                ) desc,
                abs(coalesce(attributes.valid_from, spine.month) - spine.month),
                attributes.valid_from desc nulls last
        ) as pick
    from spine
    inner join attributes
        on spine.user_key = attributes.user_key

),

month_attributes as (

    select
        attributes_ranked.*,
        {{ academic_year_start('attributes_ranked.month') }} as academic_year_start
    from attributes_ranked
    where pick = 1

),

grouped as (

    select
        month_attributes.*,
        {{ persona_user_group(
            'user_type', 'degree_level', 'entry_year', 'expected_graduation_year', 'academic_year_start'
        ) }} as user_group
    from month_attributes

),

final as (

    select
        spine.user_key::text as user_key,
        spine.month::date as month,
        grouped.user_type::text as user_type,
        grouped.user_group::text as user_group,
        -- group personas split postgraduates into master's and doctoral students
        (case
            when grouped.user_type = 'student' and grouped.user_group is null then 'student_unspecified'
            when grouped.user_group = 'postgraduate' then grouped.degree_level
            else grouped.user_group
        end)::text as persona_group,
        grouped.college::text as college,
        grouped.major::text as major,
        grouped.class_code::text as class_code,
        grouped.degree_level::text as degree_level,
        coalesce(grouped.is_vip, false) as is_vip,
        spine.consent_profiling,
        spine.consent_ranking,
        coalesce(spine.is_vacation_month, false) as is_vacation_month,
        monthly_use.user_key is not null as is_active,
        coalesce(monthly_use.active_days, 0)::integer as active_days,
        coalesce(monthly_use.loans, 0)::integer as loans,
        coalesce(monthly_use.visits, 0)::integer as visits,
        coalesce(monthly_dwell.dwell_minutes, 0)::integer as dwell_minutes,
        coalesce(monthly_use.eresource_sessions, 0)::integer as eresource_sessions,
        coalesce(monthly_use.participation_events, 0)::integer as participation_events,
        (case
            when monthly_use.used_physical and monthly_use.used_digital then 'both'
            when monthly_use.used_physical then 'physical'
            when monthly_use.used_digital then 'digital'
            else 'none'
        end)::text as channel
    from spine
    inner join grouped
        on
            spine.user_key = grouped.user_key
            and spine.month = grouped.month
    left join monthly_use
        on
            spine.user_key = monthly_use.user_key
            and spine.month = monthly_use.month
    left join monthly_dwell
        on
            spine.user_key = monthly_dwell.user_key
            and spine.month = monthly_dwell.month

)

select * from final
