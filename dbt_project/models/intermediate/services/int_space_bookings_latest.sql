-- Booking exports overlap (a week exported every day): a booking's copy from the newest load
-- wins, as its status moves on (a booking checked in or missed after the earlier export).
with

bookings as (

    select * from {{ ref('stg_services__space_bookings') }}

),

loads as (

    select * from {{ ref('stg_services__loads') }}

),

ranked as (

    select
        bookings.*,
        row_number() over (
            partition by bookings.booking_id
            order by loads.loaded_at desc nulls last, bookings.batch_id::text desc, bookings.source_line desc
        ) as recency
    from bookings
    left join loads
        on bookings.batch_id = loads.batch_id

),

final as (

    select
        booking_id,
        person_key,
        space_id,
        space_type,
        space_area,
        status,
        starts_at,
        ends_at,
        booked_at
    from ranked
    where recency = 1

)

select * from final
