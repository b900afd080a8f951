-- Koha's statistics table has no key and two exports may overlap. An event repeated inside one
-- file can be real (two renewals in the same second), so count each distinct event per load and
-- keep, across loads, as many copies as the load that saw the most of them. A file loaded again
-- under the same name (a corrected or completed re-export of that period) replaces its earlier
-- load first: what the correction dropped or changed is gone.
with

all_events as (

    select
        *,
        regexp_replace(source_file, '^.*/', '') as file_name
    from {{ ref('stg_circulation__koha_events') }}

),

loads as (

    select * from {{ ref('stg_circulation__loads') }}

),

file_loads as (

    select distinct
        all_events.file_name,
        all_events.batch_id,
        loads.loaded_at
    from all_events
    left join loads
        on all_events.batch_id = loads.batch_id

),

current_loads as (

    select distinct on (file_name)
        file_name,
        batch_id
    from file_loads
    order by file_name asc, loaded_at desc nulls last, batch_id::text desc

),

events as (

    select all_events.*
    from all_events
    inner join current_loads
        on all_events.batch_id = current_loads.batch_id

),

numbered as (

    select
        events.*,
        row_number() over (
            partition by
                batch_id, event_at, event_type, item_id, patron_key, branch, other, amount,
                item_type, location, collection_code, patron_category, interface, card_key
            order by source_line
        ) as occurrence
    from events

),

deduplicated as (

    select distinct on (
        event_at, event_type, item_id, patron_key, branch, other, amount,
        item_type, location, collection_code, patron_category, interface, card_key, occurrence
    ) *
    from numbered
    order by
        event_at, event_type, item_id, patron_key, branch, other, amount,
        item_type, location, collection_code, patron_category, interface, card_key, occurrence,
        batch_id, source_line

),

final as (

    select
        md5(concat_ws(
            '|',
            {{ epoch_text('event_at') }},
            event_type,
            coalesce(item_id, ''),
            coalesce(patron_key, ''),
            coalesce(branch, ''),
            coalesce(other, ''),
            coalesce(amount::text, ''),
            coalesce(item_type, ''),
            coalesce(location, ''),
            coalesce(collection_code, ''),
            coalesce(patron_category, ''),
            coalesce(interface, ''),
            occurrence::text,
            -- left out when null (concat_ws skips nulls): keys of card-less exports stay as they were
            card_key
        )) as event_key,
        item_id,
        patron_key,
        card_key,
        event_type,
        branch,
        other,
        item_type,
        location,
        collection_code,
        patron_category,
        interface,
        amount,
        event_at,
        batch_id,
        source_file,
        source_line
    from deduplicated

)

select * from final
