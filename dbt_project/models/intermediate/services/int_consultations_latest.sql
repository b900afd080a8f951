-- One row per question: an answered copy wins over an unanswered one (an answer is never taken
-- back), then the copy from the newest load.
with

consultations as (

    select * from {{ ref('stg_services__consultations') }}

),

loads as (

    select * from {{ ref('stg_services__loads') }}

),

ranked as (

    select
        consultations.*,
        row_number() over (
            partition by consultations.consultation_id
            order by
                (consultations.answered_at is not null) desc,
                loads.loaded_at desc nulls last,
                consultations.batch_id::text desc,
                consultations.source_line desc
        ) as recency
    from consultations
    left join loads
        on consultations.batch_id = loads.batch_id

),

final as (

    select
        consultation_id,
        person_key,
        channel,
        topic,
        asked_at,
        answered_at
    from ranked
    where recency = 1

)

select * from final
