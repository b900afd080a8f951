with

source as (

    select * from {{ source('circulation', 'koha_statistics') }}

),

renamed as (

    select
        -- ids
        nullif(trim(itemnumber), '') as item_id,
        patron_key,
        card_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        lower(trim(type)) as event_type,
        branch,
        other,
        itemtype as item_type,
        location,
        ccode as collection_code,
        categorycode as patron_category,
        interface,

        -- measures
        value as amount,

        -- timestamps
        event_at

    from source

)

select * from renamed
