-- One row per question asked of the librarians, with the time it took to answer.
with

consultations as (

    select * from {{ ref('int_consultations_latest') }}

),

person_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'person'

),

final as (

    select
        md5('consultation|' || consultations.consultation_id)::text as consultation_key,
        person_links.user_key::text as user_key,
        consultations.channel::text as channel,
        consultations.topic::text as topic,
        consultations.asked_at::timestamptz as asked_at,
        consultations.answered_at::timestamptz as answered_at,
        (consultations.answered_at is not null)::boolean as is_answered,
        round(
            (extract(epoch from consultations.answered_at - consultations.asked_at) / 60)::numeric, 1
        )::numeric as response_minutes,
        {{ local_date('consultations.asked_at') }} as asked_date
    from consultations
    left join person_links
        on consultations.person_key = person_links.identifier_key

)

select
    consultation_key,
    user_key,
    channel,
    topic,
    asked_at,
    answered_at,
    is_answered,
    response_minutes,
    asked_date
from final
