-- The training catalogue, one row per session: the catalogue's columns ride on every registration
-- row, so the session's newest copy (newest load, then the last line) describes it.
with

registrations as (

    select * from {{ ref('stg_services__training_registrations') }}

),

loads as (

    select * from {{ ref('stg_services__loads') }}

),

ranked as (

    select
        registrations.*,
        row_number() over (
            partition by registrations.session_id
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
        series,
        topic,
        level,
        session_start,
        session_hours,
        capacity
    from ranked
    where recency = 1

)

select * from final
