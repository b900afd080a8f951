with

source as (

    select * from {{ source('gate', 'gate_passages') }}

),

renamed as (

    select
        -- ids
        card_key,
        trim(gate) as gate_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        direction,
        result,

        -- timestamps
        passed_at,
        period_start,
        period_end

    from source

)

select * from renamed
