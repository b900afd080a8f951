-- Response time by channel and month (of the question). Counts questions, not persons.
with

consultations as (

    select * from {{ ref('fct_consultations') }}

),

final as (

    select
        channel::text as channel,
        date_trunc('month', asked_date)::date as month,
        count(*)::integer as questions,
        count(answered_at)::integer as answered_questions,
        round(avg(response_minutes), 1)::numeric as mean_response_minutes,
        round((percentile_cont(0.5) within group (order by response_minutes))::numeric, 1)::numeric
            as median_response_minutes,
        round((percentile_cont(0.9) within group (order by response_minutes))::numeric, 1)::numeric
            as p90_response_minutes
    from consultations
    group by channel, date_trunc('month', asked_date)::date

)

select * from final
