-- Every observed state of a person, from any campus source, with the instant it holds from.
-- A roster snapshot (campus-json pages, a registrar export) says who was there on its date, and
-- whoever a snapshot lists but the next snapshot of the same series leaves out had left by then.
-- An API record says what the person looked like from its updated_at; a tombstone, that they left.
-- The same person observed twice at the same instant (a record synced twice, a page reloaded)
-- keeps the latest load's row.
with

people as (

    select
        *,
        regexp_replace(source_file, '^.*/', '') as file_name
    from {{ ref('stg_campus__people') }}

),

records as (

    select * from {{ ref('stg_campus__person_records') }}

),

loads as (

    select * from {{ ref('stg_campus__roster_loads') }}

),

vip_roles as (

    select array_agg(role) as roles from {{ ref('vip_roles') }}

),

-- A snapshot's file loaded again under the same name (a corrected re-export of that page)
-- replaces its earlier load. Each format is its own series of snapshots.
snapshot_files as (

    select distinct
        coalesce(loads.format, 'campus-json') as series,
        people.snapshot_date,
        people.file_name,
        people.batch_id,
        loads.loaded_at
    from people
    left join loads
        on people.batch_id = loads.batch_id

),

current_files as (

    select
        series,
        snapshot_date,
        batch_id,
        loaded_at
    from (
        select
            snapshot_files.*,
            row_number() over (
                partition by series, snapshot_date, file_name
                order by loaded_at desc nulls last, batch_id::text desc
            ) as recency
        from snapshot_files
    ) as ranked
    where recency = 1

),

appearances as (

    select *
    from (
        select
            people.*,
            current_files.series,
            current_files.loaded_at,
            row_number() over (
                partition by current_files.series, people.snapshot_date, people.user_key
                order by
                    current_files.loaded_at desc nulls last,
                    people.batch_id::text desc,
                    people.source_line desc
            ) as person_row
        from people
        inner join current_files
            on
                people.batch_id = current_files.batch_id
                and people.snapshot_date = current_files.snapshot_date
    ) as ranked
    where person_row = 1

),

snapshots as (

    select
        series,
        snapshot_date,
        lead(snapshot_date) over (
            partition by series
            order by snapshot_date
        ) as next_snapshot_date
    from (select distinct
        series,
        snapshot_date
    from appearances) as distinct_snapshots

),

departures as (

    select
        appearances.user_key,
        appearances.series,
        snapshots.next_snapshot_date as left_on,
        appearances.batch_id,
        appearances.source_line,
        appearances.loaded_at
    from appearances
    inner join snapshots
        on
            appearances.series = snapshots.series
            and appearances.snapshot_date = snapshots.snapshot_date
    left join appearances as following
        on
            appearances.series = following.series
            and snapshots.next_snapshot_date = following.snapshot_date
            and appearances.user_key = following.user_key
    where
        snapshots.next_snapshot_date is not null
        and following.user_key is null

),

observed as (

    select
        user_key,
        {{ local_midnight('snapshot_date') }} as observed_at,
        false as is_deleted,
        'roster:' || series as origin,
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
        roles,
        batch_id,
        source_line,
        loaded_at
    from appearances

    union all

    select
        user_key,
        {{ local_midnight('left_on') }} as observed_at,
        true as is_deleted,
        'roster:' || series as origin,
        null as card_key,
        null as login_key,
        null as koha_patron_key,
        null as folio_patron_key,
        null as user_type,
        null as college_code,
        null as college_name,
        null as major_code,
        null as major_name,
        null as class_code,
        null as degree_level,
        null::integer as entry_year,
        null::integer as expected_graduation_year,
        null as enrollment_status,
        null::boolean as consent_profiling,
        null::boolean as consent_ranking,
        null::text as roles,
        batch_id,
        source_line,
        loaded_at
    from departures

    union all

    select
        records.user_key,
        records.updated_at as observed_at,
        records.is_deleted,
        'api:' || records.hub as origin,
        records.card_key,
        records.login_key,
        records.koha_patron_key,
        records.folio_patron_key,
        records.user_type,
        records.college_code,
        records.college_name,
        records.major_code,
        records.major_name,
        records.class_code,
        records.degree_level,
        records.entry_year,
        records.expected_graduation_year,
        records.enrollment_status,
        records.consent_profiling,
        records.consent_ranking,
        records.roles,
        records.batch_id,
        records.source_line,
        loads.loaded_at
    from records
    left join loads
        on records.batch_id = loads.batch_id

),

deduplicated as (

    select *
    from (
        select
            observed.*,
            row_number() over (
                partition by user_key, observed_at
                order by loaded_at desc nulls last, batch_id::text desc, source_line desc
            ) as observation_row
        from observed
    ) as ranked
    where observation_row = 1

),

final as (

    select
        deduplicated.user_key,
        deduplicated.observed_at,
        deduplicated.is_deleted,
        deduplicated.origin,
        deduplicated.card_key,
        deduplicated.login_key,
        deduplicated.koha_patron_key,
        deduplicated.folio_patron_key,
        deduplicated.user_type,
        deduplicated.college_code,
        deduplicated.college_name,
        deduplicated.major_code,
        deduplicated.major_name,
        deduplicated.class_code,
        deduplicated.degree_level,
        deduplicated.entry_year,
        deduplicated.expected_graduation_year,
        deduplicated.enrollment_status,
        deduplicated.consent_profiling,
        deduplicated.consent_ranking,
        deduplicated.roles,
        coalesce(string_to_array(deduplicated.roles, ',') && vip_roles.roles, false) as is_vip,
        deduplicated.batch_id,
        deduplicated.source_line
    from deduplicated
    cross join vip_roles

)

select * from final
