-- The period the persona marts describe, one row: the persona window ends at the newest use in
-- the data (not at the wall clock, so a rebuild of the same data gives the same personas) and
-- covers var persona_window_days days before it; months run from the first month with any use to
-- the newest. All null when nothing has been loaded yet.
with

events as (

    select * from {{ ref('int_persona_activity_events') }}

),

bounds as (

    select
        max(activity_at) as window_end,
        min(activity_month) as first_month,
        max(activity_month) as last_month
    from events

),

final as (

    select
        window_end::timestamptz as window_end,
        (window_end - interval '1 day' * {{ var('persona_window_days') }})::timestamptz as window_start,
        {{ local_date('window_end') }} as window_end_date,
        first_month::date as first_month,
        last_month::date as last_month
    from bounds

)

select * from final
