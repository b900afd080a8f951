-- The roster is a full snapshot per load: the current population is the newest snapshot_date
-- and, when that snapshot was loaded more than once (a corrected re-export), its latest load.
with

people as (

    select * from {{ ref('stg_campus__people') }}

),

roster_loads as (

    select * from {{ ref('stg_campus__roster_loads') }}

),

snapshot_loads as (

    select distinct
        people.snapshot_date,
        people.batch_id
    from people

),

ranked_loads as (

    select
        snapshot_loads.snapshot_date,
        snapshot_loads.batch_id,
        row_number() over (
            order by
                snapshot_loads.snapshot_date desc nulls last,
                roster_loads.loaded_at desc nulls last,
                -- only to stay deterministic when the load log lacks a batch
                snapshot_loads.batch_id::text desc
        ) as recency
    from snapshot_loads
    left join roster_loads
        on snapshot_loads.batch_id = roster_loads.batch_id

),

latest_load as (

    select
        snapshot_date,
        batch_id
    from ranked_loads
    where recency = 1

),

latest_rows as (

    select
        people.*,
        -- a person repeated inside one file: the later line wins
        row_number() over (
            partition by people.person_key
            order by people.source_line desc
        ) as person_row
    from people
    inner join latest_load
        on people.batch_id = latest_load.batch_id
        and people.snapshot_date is not distinct from latest_load.snapshot_date

),

final as (

    select
        person_key,
        card_key,
        login_key,
        koha_patron_key,
        folio_patron_key,
        person_type,
        college_code,
        college_name,
        major_code,
        major_name,
        class_code,
        degree_level,
        entry_year,
        expected_graduation_year,
        enrollment_status,
        consent_profiling,
        consent_ranking,
        snapshot_date
    from latest_rows
    where person_row = 1

)

select * from final
