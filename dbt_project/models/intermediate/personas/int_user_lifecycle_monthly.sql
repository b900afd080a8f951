-- Each user's lifecycle stage in each of their months (every user of the roster, opted-out ones
-- included: group marts count them; user_lifecycle_monthly keeps consenting users only).
--
-- Counted months: a month counts towards inactivity unless it is a vacation month in which the
-- user did nothing (a month of use always counts). Thresholds (dbt vars):
--   A = lifecycle_at_risk_after_months   counted months without use that make a user at risk (2)
--   L = lifecycle_lapsed_after_months    counted months without use that make a user lapsed (4)
--   W, N = lifecycle_loyal_window_months, lifecycle_loyal_min_active_months: loyal users used
--          the library in at least N of their last W counted months (3 of 4)
-- Stages, in this order of precedence (exactly one holds):
--   potential    no use yet (on the roster, never active so far)
--   new          first month of use
--   reactivated  a month of use after at least L counted months without use
--   loyal        used in N of the last W counted months, and used this month or fewer than A
--                counted months ago
--   active       used this month, or fewer than A counted months ago
--   at_risk      A to L-1 counted months without use
--   lapsed       L or more counted months without use
-- Needs 1 <= A < L. The first month of the data cannot tell a new user from a returning one:
-- every user active in it is new.
with

user_months as (

    select * from {{ ref('int_persona_user_months') }}

),

counted as (

    select
        user_key,
        month,
        is_active,
        is_vacation_month,
        (is_active or not is_vacation_month) as is_counted
    from user_months

),

numbered as (

    select
        counted.*,
        sum(case when is_counted then 1 else 0 end) over (
            partition by user_key
            order by month rows between unbounded preceding and current row
        ) as counted_number,
        min(case when is_active then month end) over (partition by user_key) as first_active_month
    from counted

),

measured as (

    select
        numbered.*,
        max(case when is_active then counted_number end) over (
            partition by user_key
            order by month rows between unbounded preceding and 1 preceding
        ) as previous_active_number,
        -- months of use among the last W counted months; an uncounted month shares its number
        -- with the counted month before it, and is never a month of use
        sum(case when is_active then 1 else 0 end) over (
            partition by user_key
            order by counted_number
            range between {{ var('lifecycle_loyal_window_months', 4) - 1 }} preceding and current row
        ) as loyal_window_active_months
    from numbered

),

gaps as (

    select
        measured.*,
        (first_active_month is not null and month >= first_active_month) as has_used,
        case
            when is_active then 0
            when first_active_month is not null and month > first_active_month
                then counted_number - previous_active_number
        end as inactive_months,
        case
            when is_active and previous_active_number is not null
                then counted_number - 1 - previous_active_number
        end as gap_months
    from measured

),

staged as (

    select
        gaps.*,
        case
            when not has_used then 'potential'
            when is_active and month = first_active_month then 'new'
            when is_active and gap_months >= {{ var('lifecycle_lapsed_after_months', 4) }} then 'reactivated'
            when
                inactive_months < {{ var('lifecycle_at_risk_after_months', 2) }}
                and loyal_window_active_months >= {{ var('lifecycle_loyal_min_active_months', 3) }}
                then 'loyal'
            when inactive_months < {{ var('lifecycle_at_risk_after_months', 2) }} then 'active'
            when inactive_months < {{ var('lifecycle_lapsed_after_months', 4) }} then 'at_risk'
            else 'lapsed'
        end as stage
    from gaps

),

final as (

    select
        user_key::text as user_key,
        month::date as month,
        stage::text as stage,
        (lag(stage) over (
            partition by user_key
            order by month
        ))::text as previous_stage,
        is_active::boolean as is_active,
        is_vacation_month::boolean as is_vacation_month,
        is_counted::boolean as is_counted,
        (is_active and month = first_active_month)::boolean as is_first_active_month,
        inactive_months::integer as inactive_months,
        gap_months::integer as gap_months,
        loyal_window_active_months::integer as loyal_window_active_months
    from staged

)

select * from final
