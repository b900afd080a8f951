-- Volunteering records without repeats from overlapping exports. A record with an id: its newest
-- copy. A record without one is known by its values; it is kept as many times as the load that
-- saw it most often (two identical shifts on one day are two shifts, and a second export of the
-- same days must not add them again).
with

records as (

    select * from {{ ref('stg_services__volunteer_hours') }}

),

loads as (

    select * from {{ ref('stg_services__loads') }}

),

with_id as (

    select
        records.*,
        row_number() over (
            partition by records.record_id
            order by loads.loaded_at desc nulls last, records.batch_id::text desc, records.source_line desc
        ) as recency
    from records
    left join loads
        on records.batch_id = loads.batch_id
    where records.record_id is not null

),

copies_per_load as (

    select
        person_key,
        activity,
        activity_date,
        hours,
        batch_id,
        count(*) as copies
    from records
    where record_id is null
    group by person_key, activity, activity_date, hours, batch_id

),

without_id as (

    select
        person_key,
        activity,
        activity_date,
        hours,
        generate_series(1, max(copies)::integer) as occurrence
    from copies_per_load
    group by person_key, activity, activity_date, hours

),

final as (

    select
        md5('id|' || record_id) as volunteer_record_key,
        record_id,
        person_key,
        activity,
        activity_date,
        hours
    from with_id
    where recency = 1

    union all

    select
        md5(
            concat_ws('|', 'values', person_key, activity, activity_date::text, hours::text, occurrence::text)
        ) as volunteer_record_key,
        null as record_id,
        person_key,
        activity,
        activity_date,
        hours
    from without_id

)

select * from final
