with

source as (

    select * from {{ source('services', 'volunteer_hours') }}

),

renamed as (

    select
        -- ids
        record_id,
        person_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        trim(activity) as activity,

        -- measures
        hours,

        -- dates
        activity_date

    from source

)

select * from renamed
