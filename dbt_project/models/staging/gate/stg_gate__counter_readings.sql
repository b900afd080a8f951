with

source as (

    select * from {{ source('gate', 'gate_counter_readings') }}

),

renamed as (

    select
        -- ids
        trim(counter_id) as counter_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        reading_status,
        reading_text,
        counter_max,
        bidirectional,

        -- measures
        reading,

        -- timestamps
        reading_date

    from source

)

select * from renamed
