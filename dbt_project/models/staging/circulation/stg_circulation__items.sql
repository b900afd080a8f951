with

source as (

    select * from {{ source('circulation', 'ils_items') }}

),

renamed as (

    select
        -- ids
        lower(trim(ils)) as ils,
        trim(item_id) as item_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        nullif(trim(call_number), '') as call_number,
        -- Chinese Library Classification: the top-level class is the call number's first letter.
        case
            when upper(left(ltrim(call_number), 1)) ~ '^[A-Z]$'
                then upper(left(ltrim(call_number), 1))
        end as call_number_letter,
        item_type,
        location

    from source

)

select * from renamed
