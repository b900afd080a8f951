-- One row per response and question: a survey exported again (with the library's decision on a
-- suggestion added) replaces the earlier copy of each answer.
with

answers as (

    select * from {{ ref('stg_services__feedback_responses') }}

),

loads as (

    select * from {{ ref('stg_services__loads') }}

),

ranked as (

    select
        answers.*,
        row_number() over (
            partition by answers.response_id, answers.question
            order by loads.loaded_at desc nulls last, answers.batch_id::text desc, answers.source_line desc
        ) as recency
    from answers
    left join loads
        on answers.batch_id = loads.batch_id

),

final as (

    select
        response_id,
        question,
        person_key,
        survey,
        service_area,
        question_type,
        score,
        suggestion_status,
        comment_length,
        comment_language,
        comment_topics,
        submitted_at
    from ranked
    where recency = 1

)

select * from final
