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
        format,
        target_table,

        -- measures
        rows_loaded,

        -- timestamps
        finished_at as loaded_at

    from source
    where
        target_table in ('campus_people', 'campus_person_records', 'folio_users')
        and status = 'loaded'

)

select * from renamed
