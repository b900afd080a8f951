with

source as (

    select * from {{ source('gate', 'gate_counter_intervals') }}

),

renamed as (

    select
        -- ids
        trim(counter_id) as counter_id,
        channel,
        record_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        layout,
        interval_status,

        -- measures
        count_in,
        count_out,

        -- timestamps
        interval_start,
        interval_end

    from source

)

select * from renamed
