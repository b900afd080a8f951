with

source as (

    select * from {{ source('campus', 'load_log') }}

),

renamed as (

    select
        -- ids
        batch_id,

        -- dimensions
        source_file,

        -- measures
        rows_loaded,

        -- timestamps
        finished_at as loaded_at

    from source
    where
        target_table = 'campus_people'
        and status = 'loaded'

)

select * from renamed
