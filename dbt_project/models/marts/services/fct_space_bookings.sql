-- One row per room or seat booking. Bookings of users who opted out of profiling stay here (they
-- count in aggregates); persona and credit marts filter on consent.
with

bookings as (

    select * from {{ ref('int_space_bookings_latest') }}

),

person_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'person'

),

final as (

    select
        md5('booking|' || bookings.booking_id)::text as booking_key,
        person_links.user_key::text as user_key,
        bookings.space_id::text as space_id,
        bookings.space_type::text as space_type,
        bookings.space_area::text as space_area,
        bookings.status::text as status,
        (bookings.status = 'no_show')::boolean as is_no_show,
        bookings.starts_at::timestamptz as starts_at,
        bookings.ends_at::timestamptz as ends_at,
        bookings.booked_at::timestamptz as booked_at,
        (extract(epoch from bookings.ends_at - bookings.starts_at) / 60)::integer as booked_minutes,
        {{ local_date('bookings.starts_at') }} as booking_date,
        {{ term_of_date(local_date('bookings.starts_at')) }}::text as term
    from bookings
    left join person_links
        on bookings.person_key = person_links.identifier_key

)

select
    booking_key,
    user_key,
    space_id,
    space_type,
    space_area,
    status,
    is_no_show,
    starts_at,
    ends_at,
    booked_at,
    booked_minutes,
    booking_date,
    term
from final
