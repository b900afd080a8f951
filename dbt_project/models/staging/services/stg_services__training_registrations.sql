with

source as (

    select * from {{ source('services', 'training_registrations') }}

),

renamed as (

    select
        -- ids
        session_id,
        person_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- session (the catalogue's columns, repeated on each registration)
        trim(series) as series,
        topic,
        lower(level) as level,
        session_start,
        hours as session_hours,
        capacity,

        -- registration
        registered_at,
        attended

    from source

)

select * from renamed
