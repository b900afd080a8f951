-- Each consenting user's lifecycle stage in each month they were on the roster (the stages and
-- their thresholds are described in int_user_lifecycle_monthly and the model's description).
-- Opted-out users have no row here; group_persona and org_persona still count their stages.
with

lifecycle as (

    select * from {{ ref('int_user_lifecycle_monthly') }}

),

user_months as (

    select * from {{ ref('int_persona_user_months') }}

),

final as (

    select
        lifecycle.user_key::text as user_key,
        lifecycle.month::date as month,
        lifecycle.stage::text as stage,
        lifecycle.previous_stage::text as previous_stage,
        user_months.user_group::text as user_group,
        lifecycle.is_active::boolean as is_active,
        lifecycle.is_vacation_month::boolean as is_vacation_month,
        lifecycle.is_counted::boolean as is_counted,
        lifecycle.is_first_active_month::boolean as is_first_active_month,
        lifecycle.inactive_months::integer as inactive_months,
        lifecycle.gap_months::integer as gap_months,
        lifecycle.loyal_window_active_months::integer as loyal_window_active_months
    from lifecycle
    inner join user_months
        on
            lifecycle.user_key = user_months.user_key
            and lifecycle.month = user_months.month
    where user_months.consent_profiling

)

select * from final
