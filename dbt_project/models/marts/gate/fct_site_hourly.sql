-- One row per site and local hour, from the first to the last hour with any gate activity there
-- (someone inside included):
-- turnstile entries and exits, denied swipes, how many were inside, and how many the people
-- counters counted, so that one can see what share of visitors the swipes identify.
-- A table rebuilt every time on top of the incremental gate chain (int_gate_passages_deduplicated,
-- int_visits_paired_from_gate_events): identified_entries joins int_identity_links, which a roster
-- change alters for old hours too, and the counters' intervals are not incremental.
with

visits as (

    select * from {{ ref('int_visits_paired_from_gate_events') }}

),

passages as (

    select * from {{ ref('int_gate_passages_deduplicated') }}
    where site_code is not null

),

card_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'card'

),

counters as (

    select * from {{ ref('gate_devices') }}
    where device_kind = 'counter'

),

intervals as (

    select distinct on (counter_id, channel, interval_end) *
    from {{ ref('stg_gate__counter_intervals') }}
    where
        interval_status = 'ok'
        and interval_start is not null
        and interval_end - interval_start <= interval '1 hour'
    order by counter_id asc, channel asc, interval_end asc, batch_id asc, source_line desc

),

entries as (

    select
        visits.site_code,
        {{ local_hour_start('visits.entered_at') }} as hour_start,
        count(*) as entries,
        count(card_links.user_key) as identified_entries
    from visits
    left join card_links
        on visits.card_key = card_links.identifier_key
    where visits.entered_at is not null
    group by visits.site_code, {{ local_hour_start('visits.entered_at') }}

),

exits as (

    select
        site_code,
        {{ local_hour_start('exit_recorded_at') }} as hour_start,
        count(*) as exits
    from visits
    where exit_recorded_at is not null
    group by site_code, {{ local_hour_start('exit_recorded_at') }}

),

denied as (

    select
        site_code,
        {{ local_hour_start('passed_at') }} as hour_start,
        count(*) as denied_passages
    from passages
    where result = 'denied'
    group by site_code, {{ local_hour_start('passed_at') }}

),

-- a visit is inside at the end of every hour that ends after it began and before it ended
occupancy as (

    select
        visits.site_code,
        hour_end.hour_end - interval '1 hour' as hour_start,
        count(*) as estimated_occupancy
    from visits
    cross join
        lateral generate_series(
            {{ local_hour_start('visits.entered_at') }} + interval '1 hour',
            visits.left_at,
            interval '1 hour'
        ) as hour_end (hour_end)
    where
        visits.entered_at is not null
        and hour_end.hour_end < visits.left_at
    group by visits.site_code, hour_end.hour_end

),

counted as (

    select
        counters.site_code,
        {{ local_hour_start('intervals.interval_start') }} as hour_start,
        sum(intervals.count_in) as counted_visitors
    from intervals
    inner join counters
        on intervals.counter_id = counters.device_id
    group by counters.site_code, {{ local_hour_start('intervals.interval_start') }}

),

activity as (

    select
        site_code,
        hour_start
    from entries
    union all
    select
        site_code,
        hour_start
    from exits
    union all
    select
        site_code,
        hour_start
    from denied
    union all
    select
        site_code,
        hour_start
    from counted
    union all
    select
        site_code,
        hour_start
    from occupancy

),

hours as (

    select
        bounds.site_code,
        series.hour_start
    from (
        select
            site_code,
            min(hour_start) as first_hour,
            max(hour_start) as last_hour
        from activity
        group by site_code
    ) as bounds
    cross join
        lateral generate_series(bounds.first_hour, bounds.last_hour, interval '1 hour')
        as series (hour_start)

),

final as (

    select
        hours.site_code,
        hours.hour_start,
        coalesce(entries.entries, 0) as entries,
        coalesce(exits.exits, 0) as exits,
        coalesce(entries.identified_entries, 0) as identified_entries,
        coalesce(denied.denied_passages, 0) as denied_passages,
        coalesce(occupancy.estimated_occupancy, 0) as estimated_occupancy,
        counted.counted_visitors,
        case
            when counted.counted_visitors > 0
                then round(coalesce(entries.identified_entries, 0)::numeric / counted.counted_visitors, 4)
        end as identified_share
    from hours
    left join entries
        on hours.site_code = entries.site_code and hours.hour_start = entries.hour_start
    left join exits
        on hours.site_code = exits.site_code and hours.hour_start = exits.hour_start
    left join denied
        on hours.site_code = denied.site_code and hours.hour_start = denied.hour_start
    left join occupancy
        on hours.site_code = occupancy.site_code and hours.hour_start = occupancy.hour_start
    left join counted
        on hours.site_code = counted.site_code and hours.hour_start = counted.hour_start

)

select
    md5(site_code || '|' || {{ epoch_text('hour_start') }})::text as site_hour_key,
    site_code::text as site_code,
    hour_start::timestamptz as hour_start,
    {{ local_date('hour_start') }} as hour_date,
    extract(hour from hour_start at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')::integer
    as hour_of_day,
    extract(isodow from hour_start at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')::integer
    as weekday,
    entries::integer as entries,
    exits::integer as exits,
    identified_entries::integer as identified_entries,
    denied_passages::integer as denied_passages,
    estimated_occupancy::integer as estimated_occupancy,
    counted_visitors::integer as counted_visitors,
    identified_share::numeric as identified_share
from final
