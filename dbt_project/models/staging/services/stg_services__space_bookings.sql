with

source as (

    select * from {{ source('services', 'space_bookings') }}

),

renamed as (

    select
        -- ids
        booking_id,
        person_key,
        space_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        lower(space_type) as space_type,
        coalesce(nullif(trim(space_area), ''), space_id) as space_area,
        lower(status) as status,

        -- timestamps
        starts_at,
        ends_at,
        booked_at

    from source

)

select * from renamed
