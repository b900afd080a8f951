-- Satisfaction and net promoter score by term, service area and user group. A respondent is a
-- user; an anonymous response (or one from outside the roster) counts as one respondent of its
-- own. Cells of 1 to k-1 respondents are suppressed, with complementary suppression across the
-- groups of a term and service area.
with

answers as (

    select * from {{ ref('fct_feedback') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

cells as (

    select
        answers.term,
        answers.service_area,
        users.user_group,
        count(distinct coalesce(answers.user_key, answers.response_key)) as respondent_users,
        count(answers.score) filter (where answers.question_type = 'rating') as ratings,
        avg(answers.score) filter (where answers.question_type = 'rating') as mean_rating,
        count(*) filter (where answers.question_type = 'rating' and answers.score >= 4) as satisfied_ratings,
        count(answers.score) filter (where answers.question_type = 'nps') as nps_responses,
        count(*) filter (where answers.is_promoter) as promoters,
        count(*) filter (where answers.is_detractor) as detractors,
        count(*) filter (where answers.has_comment) as comments
    from answers
    left join users
        on answers.user_key = users.user_key
    group by answers.term, answers.service_area, users.user_group

),

flagged as (

    select
        cells.*,
        {{ services_suppression_reason('respondent_users', 'term, service_area') }} as suppressed
    from cells

),

final as (

    select
        term::text as term,
        service_area::text as service_area,
        user_group::text as user_group,
        (case when suppressed is null then respondent_users end)::integer as respondent_users,
        (case when suppressed is null then ratings end)::integer as ratings,
        (case when suppressed is null then round(mean_rating, 2) end)::numeric as mean_rating,
        (case
            when suppressed is null and ratings > 0 then round(satisfied_ratings::numeric / ratings, 4)
        end)::numeric as satisfied_share,
        (case when suppressed is null then nps_responses end)::integer as nps_responses,
        (case when suppressed is null then promoters end)::integer as promoters,
        (case when suppressed is null then detractors end)::integer as detractors,
        (case
            when suppressed is null and nps_responses > 0
                then round(100.0 * (promoters - detractors) / nps_responses, 1)
        end)::numeric as net_promoter_score,
        (case when suppressed is null then comments end)::integer as comments,
        suppressed::text as suppressed
    from flagged

)

select * from final
