-- COUNTER usage per report, platform, title/database/item, metric and month, summed over the
-- attributes (YOP, access type, access method, data and section type).
with

usage as (

    select * from {{ ref('stg_counter__usage') }}

),

monthly as (

    select
        report_id,
        counter_release,
        customer_id,
        platform,
        publisher,
        item_kind,
        item_name,
        item_id,
        metric_type,
        usage_month,
        sum(usage_count) as usage_count
    from usage
    group by
        report_id,
        counter_release,
        customer_id,
        platform,
        publisher,
        item_kind,
        item_name,
        item_id,
        metric_type,
        usage_month

),

final as (

    select
        md5(concat_ws(
            chr(31),
            report_id,
            coalesce(customer_id, ''),
            coalesce(platform, ''),
            coalesce(publisher, ''),
            item_kind,
            coalesce(item_name, ''),
            coalesce(item_id, ''),
            metric_type,
            usage_month::text,
            counter_release
        )) as usage_key,
        report_id::text as report_id,
        counter_release::text as counter_release,
        customer_id::text as customer_id,
        platform::text as platform,
        publisher::text as publisher,
        item_kind::text as item_kind,
        item_name::text as item_name,
        item_id::text as item_id,
        metric_type::text as metric_type,
        usage_month::date as month,
        usage_count::bigint as count
    from monthly

)

select * from final
