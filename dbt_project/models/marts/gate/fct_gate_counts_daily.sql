-- Visitors per people counter and local day, with the audit flags public libraries keep on gate
-- counts (see int_gate_counts_daily for the rules).
with

counts as (

    select * from {{ ref('int_gate_counts_daily') }}

)

select
    md5(counter_id || '|' || count_date::text)::text as count_key,
    counter_id::text as counter_id,
    site_code::text as site_code,
    counter_kind::text as counter_kind,
    count_date::date as count_date,
    visitors::numeric as visitors,
    closed_visitors::numeric as closed_visitors,
    weekday_average::numeric as weekday_average,
    span_days::integer as span_days,
    estimated::boolean as estimated,
    closed::boolean as closed,
    spike::boolean as spike,
    rollover::boolean as rollover,
    reset::boolean as reset
from counts
