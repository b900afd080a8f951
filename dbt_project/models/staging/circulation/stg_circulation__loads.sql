with

source as (

    select * from {{ source('circulation', 'load_log') }}

),

renamed as (

    select
        -- ids
        batch_id,

        -- dimensions
        target_table,
        source_file,

        -- timestamps
        finished_at as loaded_at

    from source
    where
        target_table in ('koha_statistics', 'folio_loans', 'ils_items', 'evergreen_circulations')
        and status = 'loaded'

)

select * from renamed
