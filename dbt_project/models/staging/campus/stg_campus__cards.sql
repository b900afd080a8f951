with

source as (

    select * from {{ source('campus', 'campus_cards') }}

),

renamed as (

    select
        -- ids (pseudonyms)
        person_key as user_key,
        card_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- timestamps
        valid_from,
        valid_to,
        observed_at

    from source

)

select * from renamed
