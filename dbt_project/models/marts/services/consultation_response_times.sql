-- Response time by channel and month (of the question). Counts questions, not persons.
with

consultations as (

    select * from {{ ref('fct_consultations') }}

),

monthly as (

    select
        channel,
        date_trunc('month', asked_date)::date as month,
        count(*) as questions,
        count(answered_at) as answered_questions,
        avg(response_minutes) as mean_minutes,
        percentile_cont(0.5) within group (
            order by response_minutes
        ) as median_minutes,
        percentile_cont(0.9) within group (
            order by response_minutes
        ) as p90_minutes
    from consultations
    group by channel, date_trunc('month', asked_date)::date

),

final as (

    select
        channel::text as channel,
        month::date as month,
        questions::integer as questions,
        answered_questions::integer as answered_questions,
        round(mean_minutes, 1)::numeric as mean_response_minutes,
        round(median_minutes::numeric, 1)::numeric as median_response_minutes,
        round(p90_minutes::numeric, 1)::numeric as p90_response_minutes
    from monthly

)

select * from final
