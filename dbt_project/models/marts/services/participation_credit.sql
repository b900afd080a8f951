-- The participation credit ledger: per user and calendar month with activity, the units earned
-- (volunteer hours, training sessions attended, suggestions accepted, survey responses), the
-- points they give under the rules of seed participation_credit_rules (each activity capped per
-- month, then all together), and the running balance. Only users who did not opt out of
-- profiling have a ledger. Redemptions are no source yet: the balance is the points earned so far.
with

users as (

    select * from {{ ref('dim_user') }}
    where consent_profiling

),

rules as (

    select
        max(points_per_unit) filter (where activity = 'volunteer_hour') as volunteer_points,
        max(monthly_cap_points) filter (where activity = 'volunteer_hour') as volunteer_cap,
        max(points_per_unit) filter (where activity = 'training_attended') as training_points,
        max(monthly_cap_points) filter (where activity = 'training_attended') as training_cap,
        max(points_per_unit) filter (where activity = 'suggestion_accepted') as suggestion_points,
        max(monthly_cap_points) filter (where activity = 'suggestion_accepted') as suggestion_cap,
        max(points_per_unit) filter (where activity = 'feedback_response') as feedback_points,
        max(monthly_cap_points) filter (where activity = 'feedback_response') as feedback_cap,
        max(monthly_cap_points) filter (where activity = 'all') as monthly_cap
    from {{ ref('participation_credit_rules') }}

),

volunteering as (

    select
        user_key,
        date_trunc('month', activity_date)::date as month,
        sum(hours) as volunteer_hours,
        0 as trainings_attended,
        0 as suggestions_accepted,
        0 as feedback_responses
    from {{ ref('fct_volunteer_hours') }}
    where user_key is not null
    group by user_key, date_trunc('month', activity_date)::date

),

training as (

    select
        user_key,
        date_trunc('month', session_date)::date as month,
        0 as volunteer_hours,
        count(*) as trainings_attended,
        0 as suggestions_accepted,
        0 as feedback_responses
    from {{ ref('fct_training_attendance') }}
    where user_key is not null and attended
    group by user_key, date_trunc('month', session_date)::date

),

feedback as (

    select
        user_key,
        date_trunc('month', submitted_date)::date as month,
        0 as volunteer_hours,
        0 as trainings_attended,
        count(*) filter (where suggestion_status = 'accepted') as suggestions_accepted,
        count(distinct response_key) as feedback_responses
    from {{ ref('fct_feedback') }}
    where user_key is not null
    group by user_key, date_trunc('month', submitted_date)::date

),

activity as (

    select * from volunteering
    union all
    select * from training
    union all
    select * from feedback

),

monthly as (

    select
        activity.user_key,
        activity.month,
        sum(activity.volunteer_hours) as volunteer_hours,
        sum(activity.trainings_attended) as trainings_attended,
        sum(activity.suggestions_accepted) as suggestions_accepted,
        sum(activity.feedback_responses) as feedback_responses
    from activity
    inner join users
        on activity.user_key = users.user_key
    group by activity.user_key, activity.month

),

points as (

    select
        monthly.*,
        least(
            monthly.volunteer_hours * coalesce(rules.volunteer_points, 0),
            coalesce(rules.volunteer_cap, monthly.volunteer_hours * coalesce(rules.volunteer_points, 0))
        ) as volunteer_points,
        least(
            monthly.trainings_attended * coalesce(rules.training_points, 0),
            coalesce(rules.training_cap, monthly.trainings_attended * coalesce(rules.training_points, 0))
        ) as training_points,
        least(
            monthly.suggestions_accepted * coalesce(rules.suggestion_points, 0),
            coalesce(
                rules.suggestion_cap, monthly.suggestions_accepted * coalesce(rules.suggestion_points, 0)
            )
        ) as suggestion_points,
        least(
            monthly.feedback_responses * coalesce(rules.feedback_points, 0),
            coalesce(rules.feedback_cap, monthly.feedback_responses * coalesce(rules.feedback_points, 0))
        ) as feedback_points,
        rules.monthly_cap
    from monthly
    cross join rules

),

earned as (

    select
        points.*,
        least(
            volunteer_points + training_points + suggestion_points + feedback_points,
            coalesce(monthly_cap, volunteer_points + training_points + suggestion_points + feedback_points)
        ) as points_earned
    from points

),

final as (

    select
        user_key::text as user_key,
        month::date as month,
        volunteer_hours::numeric as volunteer_hours,
        trainings_attended::integer as trainings_attended,
        suggestions_accepted::integer as suggestions_accepted,
        feedback_responses::integer as feedback_responses,
        volunteer_points::numeric as volunteer_points,
        training_points::numeric as training_points,
        suggestion_points::numeric as suggestion_points,
        feedback_points::numeric as feedback_points,
        points_earned::numeric as points_earned,
        (sum(points_earned) over (
            partition by user_key
            order by month rows between unbounded preceding and current row
        ))::numeric as balance
    from earned

)

select * from final
