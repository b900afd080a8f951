-- One row per person registered for a session: the newest load's copy wins, as attendance is
-- recorded after the session (an export before it has the registration without attendance).
with

registrations as (

    select * from {{ ref('stg_services__training_registrations') }}
    where person_key is not null

),

loads as (

    select * from {{ ref('stg_services__loads') }}

),

ranked as (

    select
        registrations.*,
        row_number() over (
            partition by registrations.session_id, registrations.person_key
            order by
                loads.loaded_at desc nulls last,
                registrations.batch_id::text desc,
                registrations.source_line desc
        ) as recency
    from registrations
    left join loads
        on registrations.batch_id = loads.batch_id

),

final as (

    select
        session_id,
        person_key,
        registered_at,
        attended
    from ranked
    where recency = 1

)

select * from final
