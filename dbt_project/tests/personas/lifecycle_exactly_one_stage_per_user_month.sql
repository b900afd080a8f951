-- Each lifecycle stage's rule, written independently of the model's case expression (which
-- takes the first rule that holds): in every user-month exactly one rule must hold, and it must
-- be the stage the model gave. Returns the user-months where that fails.
{% set at_risk = var('lifecycle_at_risk_after_months', 2) %}
{% set lapsed = var('lifecycle_lapsed_after_months', 4) %}
{% set loyal = var('lifecycle_loyal_min_active_months', 3) %}

with

lifecycle as (

    select * from {{ ref('int_user_lifecycle_monthly') }}

),

rules as (

    select
        user_key,
        month,
        stage,
        -- never used so far: no count of months without use yet
        (not is_active and inactive_months is null) as is_potential,
        (is_active and is_first_active_month) as is_new,
        (is_active and not is_first_active_month and gap_months >= {{ lapsed }}) as is_reactivated,
        (
            (is_active and not is_first_active_month and gap_months < {{ lapsed }})
            or (not is_active and inactive_months < {{ at_risk }})
        ) and loyal_window_active_months >= {{ loyal }} as is_loyal,
        (
            (is_active and not is_first_active_month and gap_months < {{ lapsed }})
            or (not is_active and inactive_months < {{ at_risk }})
        ) and loyal_window_active_months < {{ loyal }} as is_active_stage,
        (not is_active and inactive_months >= {{ at_risk }} and inactive_months < {{ lapsed }}) as is_at_risk,
        (not is_active and inactive_months >= {{ lapsed }}) as is_lapsed
    from lifecycle

),

checked as (

    select
        *,
        coalesce(is_potential, false)::integer
        + coalesce(is_new, false)::integer
        + coalesce(is_reactivated, false)::integer
        + coalesce(is_loyal, false)::integer
        + coalesce(is_active_stage, false)::integer
        + coalesce(is_at_risk, false)::integer
        + coalesce(is_lapsed, false)::integer as rules_holding,
        case
            when is_potential then 'potential'
            when is_new then 'new'
            when is_reactivated then 'reactivated'
            when is_loyal then 'loyal'
            when is_active_stage then 'active'
            when is_at_risk then 'at_risk'
            when is_lapsed then 'lapsed'
        end as stage_by_rule
    from rules

)

select *
from checked
where rules_holding <> 1
    or stage_by_rule is distinct from stage
