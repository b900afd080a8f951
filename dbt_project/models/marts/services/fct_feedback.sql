-- One row per survey response and question: the score, and what was derived from the comment.
-- The comment itself never reaches the marts (its redacted text is in restricted only).
with

answers as (

    select * from {{ ref('int_feedback_answers_latest') }}

),

person_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'person'

),

final as (

    select
        md5('answer|' || answers.response_id || '|' || answers.question)::text as answer_key,
        md5('response|' || answers.response_id)::text as response_key,
        person_links.user_key::text as user_key,
        answers.survey::text as survey,
        answers.service_area::text as service_area,
        answers.question::text as question,
        answers.question_type::text as question_type,
        answers.score::integer as score,
        (case
            when answers.question_type = 'nps' and answers.score is not null
                then answers.score >= 9
        end)::boolean as is_promoter,
        (case
            when answers.question_type = 'nps' and answers.score is not null
                then answers.score <= 6
        end)::boolean as is_detractor,
        (answers.comment_length is not null)::boolean as has_comment,
        answers.comment_length::integer as comment_length,
        answers.comment_language::text as comment_language,
        answers.comment_topics::text as comment_topics,
        answers.suggestion_status::text as suggestion_status,
        answers.submitted_at::timestamptz as submitted_at,
        {{ local_date('answers.submitted_at') }} as submitted_date,
        {{ term_of_date(local_date('answers.submitted_at')) }}::text as term
    from answers
    left join person_links
        on answers.person_key = person_links.identifier_key

)

select
    answer_key,
    response_key,
    user_key,
    survey,
    service_area,
    question,
    question_type,
    score,
    is_promoter,
    is_detractor,
    has_comment,
    comment_length,
    comment_language,
    comment_topics,
    suggestion_status,
    submitted_at,
    submitted_date,
    term
from final
