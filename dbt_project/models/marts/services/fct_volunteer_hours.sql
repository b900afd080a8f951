-- One row per volunteering record (a person's hours on an activity on a day).
with

records as (

    select * from {{ ref('int_volunteer_hours_deduplicated') }}

),

person_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'person'

),

final as (

    select
        records.volunteer_record_key::text as volunteer_record_key,
        person_links.user_key::text as user_key,
        records.activity::text as activity,
        records.activity_date::date as activity_date,
        {{ term_of_date('records.activity_date') }}::text as term,
        records.hours::numeric as hours
    from records
    left join person_links
        on records.person_key = person_links.identifier_key

)

select
    volunteer_record_key,
    user_key,
    activity,
    activity_date,
    term,
    hours
from final
