with

source as (

    select * from {{ source('circulation', 'evergreen_circulations') }}

),

renamed as (

    select
        -- ids
        circ_id,
        parent_circ_id,
        patron_key,
        trim(item_id) as item_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        circ_lib,
        checkin_lib,
        copy_location,
        upper(stop_fines) as stop_fines,
        lower(renewal_channel) as renewal_channel,
        loan_duration,

        -- measures
        renewal_remaining,

        -- timestamps
        loan_at as loaned_at,
        due_at,
        returned_at,
        finished_at,
        stop_fines_at

    from source

)

select * from renamed
