-- Visitors per people counter and local day, audited as public libraries audit gate counts.
--
-- Every counter figure becomes a span of days with an amount of visitors:
-- * a cumulative reading, less the counter's previous accepted reading, covers the days since
--   that reading. A reading lower than the one before it is a rollover when the earlier reading
--   was at or above var gate_rollover_share (0.8) of the counter's maximum (visitors: maximum -
--   previous + reading, as gateCounts computes it); otherwise it is a misreading, left out, when
--   the next reading is back at or above the earlier level (or there is no next reading), and a
--   reset (the counter restarted from 0: visitors = the reading) when the counter goes on from it.
--   A bidirectional counter counts each visitor twice: its amounts are halved after the
--   subtraction. The first reading of a counter is its baseline and counts nobody.
-- * interval counts are summed by local day of their start (visitors = people counted in);
-- * a polled total counts the visitors since the previous poll: after a day with no poll at all
--   it covers that day too (Edmonton Public Library's rule). A failed poll (-1) covers nothing.
-- A span of one day is that day's measured figure. The amount of a span of several days (a gap
-- in the readings) is shared among its days in proportion to their expected figures (the average
-- of the same weekday over the previous var gate_estimate_weeks (4) weeks of measured days;
-- evenly when no day has one or all expect 0), closed days getting nothing; those days are flagged
-- estimated; a figure whose days were all closed is kept aside.
-- A day no span covers (a failed poll, a day without interval counts) is estimated as that
-- average (null when there is no history). A closed day (gate_closures seed, or a reading that
-- says the gate was closed) counts 0 visitors; a figure measured on it is kept aside.
with

readings as (

    -- a corrected re-export replaces older loads (raw replace_keys); inside one load the later line wins
    select distinct on (counter_id, reading_date) *
    from {{ ref('stg_gate__counter_readings') }}
    order by counter_id asc, reading_date asc, batch_id asc, source_line desc

),

intervals as (

    select distinct on (counter_id, channel, interval_end) *
    from {{ ref('stg_gate__counter_intervals') }}
    order by counter_id asc, channel asc, interval_end asc, batch_id asc, source_line desc

),

counters as (

    select * from {{ ref('gate_devices') }}
    where device_kind = 'counter'

),

closures as (

    select * from {{ ref('gate_closures') }}

),

configured_readings as (

    select
        readings.counter_id,
        readings.reading_date,
        readings.reading,
        readings.reading_status,
        coalesce(readings.counter_max, counters.counter_max, {{ var("gate_counter_max", 999999) }})::numeric
        as counter_max,
        coalesce(readings.bidirectional, counters.bidirectional, false) as bidirectional
    from readings
    left join counters
        on readings.counter_id = counters.device_id

),

numeric_readings as (

    select
        configured_readings.*,
        lag(reading) over counter_history as previous_reading,
        lead(reading) over counter_history as next_reading
    from configured_readings
    where reading is not null
    window counter_history as (
        partition by counter_id
        order by reading_date
    )

),

accepted_readings as (

    select
        counter_id,
        reading_date,
        reading,
        counter_max,
        bidirectional
    from numeric_readings
    where not coalesce(
        reading < previous_reading
        and previous_reading < {{ var("gate_rollover_share", 0.8) }} * counter_max
        and (next_reading is null or next_reading >= previous_reading),
        false
    )

),

stepped_readings as (

    select
        accepted_readings.*,
        lag(reading) over counter_history as previous_reading,
        lag(reading_date) over counter_history as previous_date
    from accepted_readings
    window counter_history as (
        partition by counter_id
        order by reading_date
    )

),

cumulative_spans as (

    select
        counter_id,
        'cumulative' as counter_kind,
        previous_date + 1 as first_day,
        reading_date as last_day,
        (case
            when reading >= previous_reading then reading - previous_reading
            when previous_reading >= {{ var("gate_rollover_share", 0.8) }} * counter_max
                then counter_max - previous_reading + reading
            else reading
        end)::numeric / (case when bidirectional then 2 else 1 end) as amount,
        case
            when reading >= previous_reading then null
            when previous_reading >= {{ var("gate_rollover_share", 0.8) }} * counter_max then 'rollover'
            else 'reset'
        end as reading_event
    from stepped_readings
    where previous_reading is not null

),

interval_spans as (

    select
        counter_id,
        'interval' as counter_kind,
        {{ local_date('interval_start') }} as first_day,
        {{ local_date('interval_start') }} as last_day,
        sum(count_in)::numeric as amount,
        null as reading_event
    from intervals
    where
        layout <> 'polled-totals'
        and interval_status = 'ok'
    group by counter_id, {{ local_date('interval_start') }}

),

polls as (

    select
        counter_id,
        interval_status,
        count_in,
        {{ local_date('interval_end') }} as poll_day,
        lag({{ local_date('interval_end') }})
            over (
                partition by counter_id
                order by interval_end
            )
        as previous_poll_day
    from intervals
    where layout = 'polled-totals'

),

polled_spans as (

    select
        counter_id,
        'interval' as counter_kind,
        coalesce(previous_poll_day + 1, poll_day) as first_day,
        poll_day as last_day,
        count_in::numeric as amount,
        null as reading_event
    from polls
    where
        interval_status = 'ok'
        and poll_day > coalesce(previous_poll_day, poll_day - 1)

),

spans as (

    select
        md5(concat_ws('|', counter_id, first_day::text, last_day::text)) as span_id,
        counter_id,
        counter_kind,
        first_day,
        last_day,
        amount,
        reading_event
    from (
        select * from cumulative_spans
        union all
        select * from interval_spans
        union all
        select * from polled_spans
    ) as unioned

),

-- days that count although no figure covers them: a failed poll
uncovered_marks as (

    select
        counter_id,
        'interval' as counter_kind,
        poll_day as count_date
    from polls
    where interval_status = 'failed'

),

counter_bounds as (

    select
        counter_id,
        min(counter_kind) as counter_kind,
        min(first_day) as first_day,
        max(last_day) as last_day
    from (
        select
            counter_id,
            counter_kind,
            first_day,
            last_day
        from spans
        union all
        select
            counter_id,
            counter_kind,
            count_date as first_day,
            count_date as last_day
        from uncovered_marks
    ) as bounds
    group by counter_id

),

days as (

    select
        counter_bounds.counter_id,
        counter_bounds.counter_kind,
        counters.site_code,
        series.count_date::date as count_date
    from counter_bounds
    left join counters
        on counter_bounds.counter_id = counters.device_id
    cross join lateral generate_series(
        counter_bounds.first_day, counter_bounds.last_day, interval '1 day'
    ) as series (count_date)

),

closed_days as (

    select distinct
        days.counter_id,
        days.count_date
    from days
    inner join closures
        on
            days.count_date = closures.closed_on
            and (closures.site_code is null or days.site_code = closures.site_code)
    union
    select
        counter_id,
        reading_date
    from readings
    where reading_status = 'closed'

),

covered as (

    select
        days.*,
        closed_days.count_date is not null as closed,
        spans.span_id,
        spans.amount,
        spans.reading_event,
        spans.last_day = days.count_date as reading_day,
        spans.last_day - spans.first_day + 1 as span_days
    from days
    left join closed_days
        on
            days.counter_id = closed_days.counter_id
            and days.count_date = closed_days.count_date
    left join spans
        on
            days.counter_id = spans.counter_id
            and days.count_date between spans.first_day and spans.last_day

),

measured as (

    select
        counter_id,
        count_date,
        amount as visitors
    from covered
    where
        span_days = 1
        and not closed

),

weekday_averages as (

    select
        covered.counter_id,
        covered.count_date,
        avg(measured.visitors) as weekday_average,
        count(*) as reference_days
    from covered
    inner join measured
        on
            covered.counter_id = measured.counter_id
            and (covered.count_date - measured.count_date) % 7 = 0
            and covered.count_date - measured.count_date between 7 and 7 * {{ var("gate_estimate_weeks", 4) }}
    group by covered.counter_id, covered.count_date

),

weighted as (

    select
        covered.*,
        weekday_averages.weekday_average,
        case
            when covered.closed then 0
            else coalesce(
                weekday_averages.weekday_average,
                avg(weekday_averages.weekday_average) filter (where not covered.closed)
                    over (partition by covered.span_id),
                1
            )
        end as weight
    from covered
    left join weekday_averages
        on
            covered.counter_id = weekday_averages.counter_id
            and covered.count_date = weekday_averages.count_date

),

shared as (

    select
        weighted.*,
        sum(weight) over (partition by span_id) as span_weight,
        count(*) filter (where not closed) over (partition by span_id) as open_days
    from weighted

),

final as (

    select
        counter_id,
        counter_kind,
        site_code,
        count_date,
        round(case
            when closed then 0
            when span_id is null then weekday_average
            when span_weight > 0 then amount * weight / span_weight
            -- expected figures all 0 (days that are usually empty): evenly over the open days
            when open_days > 0 then amount / open_days
            else 0
        end, 4) as visitors,
        round(case
            when not closed or span_id is null then 0
            when open_days = 0 then amount / span_days
            else 0
        end, 4) as closed_visitors,
        round(weekday_average, 4) as weekday_average,
        coalesce(span_days, 0) as span_days,
        not closed and (span_id is null or span_days > 1) as estimated,
        closed,
        coalesce(
            not closed
            and span_days = 1
            and weekday_average > 0
            and amount >= (1 + {{ var("gate_spike_share", 0.5) }}) * weekday_average,
            false
        ) as spike,
        coalesce(reading_day and reading_event = 'rollover', false) as rollover,
        coalesce(reading_day and reading_event = 'reset', false) as reset
    from shared

)

select * from final
