-- Adapter: library visits (gate passages paired into visits, fct_visits), one row per visit.
-- An exit without its entry (entry_missing) has no entry time and no dwell: it counts as no visit.
with

visits as (

    select * from {{ ref('fct_visits') }}
    where not entry_missing

),

final as (

    select
        user_key::text as user_key,
        site_code::text as site,
        entered_at::timestamptz as entered_at,
        left_at::timestamptz as left_at,
        round(dwell_minutes)::integer as dwell_minutes,
        visit_date::date as visit_date
    from visits

)

select * from final
