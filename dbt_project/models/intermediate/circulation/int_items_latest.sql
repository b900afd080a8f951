-- Item records are re-exported whole: the newest load's record of an item wins.
with

items as (

    select * from {{ ref('stg_circulation__items') }}

),

loads as (

    select * from {{ ref('stg_circulation__loads') }}

),

ranked as (

    select
        items.*,
        row_number() over (
            partition by items.ils, items.item_id
            order by loads.loaded_at desc nulls last, items.batch_id::text desc, items.source_line desc
        ) as recency
    from items
    left join loads
        on items.batch_id = loads.batch_id

),

final as (

    select
        ils,
        item_id,
        call_number,
        call_number_letter,
        item_type,
        location
    from ranked
    where recency = 1

)

select * from final
