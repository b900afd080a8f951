-- Uptake of each outreach campaign: the goal metric's rate in the treated and the control group
-- over the campaign period, their difference and its 95% confidence interval (normal
-- approximation for a difference of two proportions), from the assignments `urm campaign run`
-- recorded. Person counts of 1 to k-1 are suppressed, and with them every figure they could be
-- recovered from (see the model's description).
with

assignments as (

    select * from {{ ref('stg_campaigns__assignments') }}

),

loans as (

    select
        user_key,
        loan_date as event_date
    from {{ ref('fct_loans') }}
    where user_key is not null

),

sessions as (

    select
        user_key,
        session_date as event_date
    from {{ ref('fct_eresource_sessions') }}
    where user_key is not null

),

trainings as (

    select
        user_key,
        session_date as event_date
    from {{ ref('fct_training_attendance') }}
    where user_key is not null and attended

),

uses as (

    select
        user_key,
        activity_date as event_date
    from {{ ref('int_persona_activity_events') }}

),

first_loans as (

    select
        user_key,
        min(event_date) as first_date
    from loans
    group by user_key

),

first_sessions as (

    select
        user_key,
        min(event_date) as first_date
    from sessions
    group by user_key

),

-- one row per assignment: did the user reach the campaign's goal within its period?
outcomes as (

    select
        assignments.*,
        case assignments.goal_metric
            when 'first_loan'
                then coalesce(
                    first_loans.first_date between assignments.period_start and assignments.period_end, false
                )
            when 'first_eresource_session'
                then coalesce(
                    first_sessions.first_date between assignments.period_start and assignments.period_end,
                    false
                )
            when 'training_attended'
                then exists (
                    select 1 from trainings
                    where
                        trainings.user_key = assignments.user_key
                        and trainings.event_date between assignments.period_start and assignments.period_end
                )
            when 'became_active' then exists (
                select 1 from uses
                where
                    uses.user_key = assignments.user_key
                    and uses.event_date between assignments.period_start and assignments.period_end
            )
        end as reached
    from assignments
    left join first_loans
        on assignments.user_key = first_loans.user_key
    left join first_sessions
        on assignments.user_key = first_sessions.user_key

),

counted as (

    select
        campaign,
        period_start,
        period_end,
        max(goal_metric) as goal_metric,
        max(control_share) as control_share,
        min(assigned_at) as assigned_at,
        count(*) filter (where arm = 'treated') as treated_users,
        count(*) filter (where arm = 'control') as control_users,
        count(*) filter (where arm = 'treated' and reached) as treated_reached_users,
        count(*) filter (where arm = 'control' and reached) as control_reached_users
    from outcomes
    group by campaign, period_start, period_end

),

rated as (

    select
        counted.*,
        treated_reached_users::numeric / nullif(treated_users, 0) as treated_rate,
        control_reached_users::numeric / nullif(control_users, 0) as control_rate
    from counted

),

-- a count of 1 to k-1 persons, in an arm, among those who reached the goal or among those who
-- did not, is suppressed; the rates, difference and interval go with it (each would give it back)
flagged as (

    select
        rated.*,
        case
            when
                treated_users between 1 and {{ var('k_anonymity') }} - 1
                or control_users between 1 and {{ var('k_anonymity') }} - 1
                then 'arm_below_k'
            when
                treated_reached_users between 1 and {{ var('k_anonymity') }} - 1
                or control_reached_users between 1 and {{ var('k_anonymity') }} - 1
                or treated_users - treated_reached_users between 1 and {{ var('k_anonymity') }} - 1
                or control_users - control_reached_users between 1 and {{ var('k_anonymity') }} - 1
                then 'outcome_below_k'
        end as suppressed,
        sqrt(
            treated_rate * (1 - treated_rate) / nullif(treated_users, 0)
            + control_rate * (1 - control_rate) / nullif(control_users, 0)
        ) as standard_error
    from rated

),

final as (

    select
        campaign::text as campaign,
        period_start::date as period_start,
        period_end::date as period_end,
        goal_metric::text as goal_metric,
        control_share::numeric(4, 3) as control_share,
        assigned_at::timestamptz as assigned_at,
        (case when suppressed = 'arm_below_k' then null else treated_users end)::bigint as treated_users,
        (case when suppressed = 'arm_below_k' then null else control_users end)::bigint as control_users,
        (case when suppressed is null then treated_reached_users end)::bigint as treated_reached_users,
        (case when suppressed is null then control_reached_users end)::bigint as control_reached_users,
        (case when suppressed is null then round(treated_rate, 4) end)::numeric(6, 4) as treated_rate,
        (case when suppressed is null then round(control_rate, 4) end)::numeric(6, 4) as control_rate,
        (case when suppressed is null then round(treated_rate - control_rate, 4) end)::numeric(6, 4)
        as rate_difference,
        (case when suppressed is null then round(treated_rate - control_rate - 1.96 * standard_error, 4) end)
        ::numeric(6, 4) as ci_lower,
        (case when suppressed is null then round(treated_rate - control_rate + 1.96 * standard_error, 4) end)
        ::numeric(6, 4) as ci_upper,
        suppressed::text as suppressed
    from flagged

)

select * from final
