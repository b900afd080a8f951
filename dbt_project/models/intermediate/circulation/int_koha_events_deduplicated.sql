-- Koha's statistics table has no key and two exports may overlap. An event repeated inside one
-- file can be real (two renewals in the same second), so count each distinct event per load and
-- keep, across loads, as many copies as the load that saw the most of them.
with

events as (

    select * from {{ ref('stg_circulation__koha_events') }}

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
    )
        *
    from numbered
    order by
        event_at, event_type, item_id, patron_key, branch, other, amount,
        item_type, location, collection_code, patron_category, interface, card_key, occurrence,
        batch_id, source_line

),

final as (

    select
        md5(concat_ws('|',
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
