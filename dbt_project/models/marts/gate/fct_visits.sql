-- One row per library visit seen by the turnstiles (see int_visits_paired_from_gate_events for
-- the pairing rules). Visits of cards that resolve to nobody in the current roster (visiting
-- readers, cards re-issued or not yet on the roster) stay here with a null user_key, so that they
-- are counted; users who opted out of profiling keep their user_key (aggregates count them).
-- A table rebuilt every time on top of the incremental pairing: the join to int_identity_links
-- is what re-attributes old visits when the roster changes, and it is cheap at visit grain.
with

visits as (

    select * from {{ ref('int_visits_paired_from_gate_events') }}

),

card_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'card'

),

final as (

    select
        visits.visit_key,
        card_links.user_key,
        visits.site_code,
        visits.entry_gate_id,
        visits.exit_gate_id,
        visits.entered_at,
        visits.left_at,
        visits.dwell_minutes,
        visits.exit_imputed,
        visits.entry_missing,
        visits.clock_skew,
        {{ local_date('coalesce(visits.entered_at, visits.left_at)') }} as visit_date,
        extract(
            hour from coalesce(visits.entered_at, visits.left_at)
            at time zone '{{ var("library_timezone", "Asia/Shanghai") }}'
        )::integer as visit_hour,
        extract(
            isodow from coalesce(visits.entered_at, visits.left_at)
            at time zone '{{ var("library_timezone", "Asia/Shanghai") }}'
        )::integer as visit_weekday
    from visits
    left join card_links
        on visits.card_key = card_links.identifier_key

)

select
    visit_key::text as visit_key,
    user_key::text as user_key,
    site_code::text as site_code,
    entry_gate_id::text as entry_gate_id,
    exit_gate_id::text as exit_gate_id,
    entered_at::timestamptz as entered_at,
    left_at::timestamptz as left_at,
    dwell_minutes::numeric as dwell_minutes,
    exit_imputed::boolean as exit_imputed,
    entry_missing::boolean as entry_missing,
    clock_skew::boolean as clock_skew,
    visit_date::date as visit_date,
    visit_hour::integer as visit_hour,
    visit_weekday::integer as visit_weekday
from final
