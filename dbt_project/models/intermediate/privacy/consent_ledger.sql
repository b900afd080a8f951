-- Consent as a ledger: every change of a person's profiling and ranking flags, with the dates
-- each value held. Built from every roster load, not only the newest: valid_from is the snapshot
-- date a value was first seen, valid_to the snapshot date it changed (null while it holds).
-- A snapshot loaded more than once (a corrected page) counts with its latest load's value.
with

people as (

    select * from {{ ref('stg_campus__people') }}

),

roster_loads as (

    select * from {{ ref('stg_campus__roster_loads') }}

),

flags as (

    select
        people.user_key,
        people.snapshot_date,
        people.batch_id,
        people.source_line,
        roster_loads.loaded_at,
        'profiling' as flag,
        people.consent_profiling as value
    from people
    left join roster_loads
        on people.batch_id = roster_loads.batch_id

    union all

    select
        people.user_key,
        people.snapshot_date,
        people.batch_id,
        people.source_line,
        roster_loads.loaded_at,
        'ranking' as flag,
        people.consent_ranking as value
    from people
    left join roster_loads
        on people.batch_id = roster_loads.batch_id

),

per_snapshot as (

    select
        user_key,
        flag,
        snapshot_date,
        value
    from (
        select
            flags.*,
            row_number() over (
                partition by user_key, flag, snapshot_date
                order by loaded_at desc nulls last, batch_id::text desc, source_line desc
            ) as recency
        from flags
    ) as ranked
    where recency = 1

),

changes as (

    select
        per_snapshot.*,
        lag(value) over (
            partition by user_key, flag
            order by snapshot_date
        ) as previous_value
    from per_snapshot

),

final as (

    select
        user_key,
        flag,
        value,
        snapshot_date as valid_from,
        lead(snapshot_date) over (
            partition by user_key, flag
            order by snapshot_date
        ) as valid_to
    from changes
    where previous_value is null or previous_value <> value

)

select * from final
