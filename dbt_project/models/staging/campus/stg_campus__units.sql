with

source as (

    select * from {{ source('campus', 'campus_units') }}

),

renamed as (

    select
        -- ids
        kind as unit_kind,
        code as unit_code,

        -- lineage
        hub,
        batch_id,
        source_file,
        source_line,

        -- dimensions
        name as unit_name,
        parent_code,
        unit_type,
        deleted as is_deleted,

        -- timestamps
        updated_at

    from source

)

select * from renamed
