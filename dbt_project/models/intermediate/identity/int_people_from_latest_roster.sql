-- The roster is a full snapshot, delivered as one or more files (the campus API's pages,
-- people-0001.json ...): the current population is the newest snapshot_date. A file of that
-- snapshot loaded again under the same name (a corrected re-export of that page) replaces its
-- earlier load; a person repeated across the remaining rows keeps the latest load's row, and
-- within one file the later line.
with

people as (

    select
        *,
        regexp_replace(source_file, '^.*/', '') as file_name
    from {{ ref('stg_campus__people') }}

),

roster_loads as (

    select * from {{ ref('stg_campus__roster_loads') }}

),

latest_snapshot as (

    select max(snapshot_date) as snapshot_date
    from people

),

snapshot_files as (

    select distinct
        people.file_name,
        people.batch_id,
        roster_loads.loaded_at
    from people
    inner join latest_snapshot
        on people.snapshot_date = latest_snapshot.snapshot_date
    left join roster_loads
        on people.batch_id = roster_loads.batch_id

),

current_files as (

    select
        batch_id,
        loaded_at
    from (
        select
            batch_id,
            loaded_at,
            row_number() over (
                partition by file_name
                order by loaded_at desc nulls last, batch_id::text desc
            ) as recency
        from snapshot_files
    ) as ranked
    where recency = 1

),

latest_rows as (

    select
        people.*,
        row_number() over (
            partition by people.user_key
            order by
                current_files.loaded_at desc nulls last,
                -- only to stay deterministic when the load log lacks a batch
                people.batch_id::text desc,
                people.source_line desc
        ) as person_row
    from people
    inner join current_files
        on people.batch_id = current_files.batch_id

),

final as (

    select
        user_key,
        card_key,
        login_key,
        koha_patron_key,
        folio_patron_key,
        user_type,
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
