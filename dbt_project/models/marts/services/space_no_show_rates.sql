-- No-show rate by space (the room's or seat's area) and user group, over all bookings landed.
-- The rate is no-shows over bookings that were due (checked in or missed); cancelled bookings are
-- counted apart. Bookers not on the roster (no user_key) count as one person together, so that a
-- cell made of them is suppressed rather than shown.
with

bookings as (

    select * from {{ ref('fct_space_bookings') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

cells as (

    select
        bookings.space_type,
        bookings.space_area,
        users.user_group,
        count(distinct coalesce(bookings.user_key, '(unresolved)')) as booking_users,
        count(*) as bookings,
        count(*) filter (where bookings.status = 'checked_in') as checked_in,
        count(*) filter (where bookings.status = 'no_show') as no_shows,
        count(*) filter (where bookings.status = 'cancelled') as cancellations
    from bookings
    left join users
        on bookings.user_key = users.user_key
    group by bookings.space_type, bookings.space_area, users.user_group

),

flagged as (

    select
        cells.*,
        {{ services_suppression_reason('booking_users', 'space_type, space_area') }} as suppressed
    from cells

),

final as (

    select
        space_type::text as space_type,
        space_area::text as space_area,
        user_group::text as user_group,
        (case when suppressed is null then booking_users end)::integer as booking_users,
        (case when suppressed is null then bookings end)::integer as bookings,
        (case when suppressed is null then checked_in end)::integer as checked_in,
        (case when suppressed is null then no_shows end)::integer as no_shows,
        (case when suppressed is null then cancellations end)::integer as cancellations,
        (case
            when suppressed is null and checked_in + no_shows > 0
                then round(no_shows::numeric / (checked_in + no_shows), 4)
        end)::numeric as no_show_rate,
        suppressed::text as suppressed
    from flagged

)

select * from final
