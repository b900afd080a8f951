with

source as (

    select * from {{ source('services', 'consultations') }}

),

renamed as (

    select
        -- ids
        consultation_id,
        person_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        lower(channel) as channel,
        topic,

        -- timestamps
        asked_at,
        answered_at

    from source

)

select * from renamed
