-- Proxy use (EZproxy sessions) against COUNTER PR figures per platform and month.
with

sessions as (

    select * from {{ ref('fct_eresource_sessions') }}

),

counter_usage as (

    select * from {{ ref('fct_counter_usage_monthly') }}

),

platform_names as (

    -- one library platform name per COUNTER platform name
    select
        counter_platform,
        min(platform) as platform
    from {{ ref('eresource_platforms') }}
    where counter_platform is not null
    group by counter_platform

),

proxy_monthly as (

    select
        platform,
        date_trunc('month', session_date)::date as month,
        count(*) as proxy_sessions,
        coalesce(sum(requests), 0) as proxy_requests
    from sessions
    where platform is not null
    group by platform, date_trunc('month', session_date)::date

),

counter_monthly as (

    select
        coalesce(platform_names.platform, counter_usage.platform) as platform,
        counter_usage.month,
        sum(counter_usage.count) filter (
            where counter_usage.metric_type = 'Total_Item_Requests'
        ) as counter_total_item_requests,
        sum(counter_usage.count) filter (
            where counter_usage.metric_type = 'Unique_Item_Requests'
        ) as counter_unique_item_requests,
        sum(counter_usage.count) filter (
            where counter_usage.metric_type = 'Searches_Platform'
        ) as counter_searches_platform
    from counter_usage
    left join platform_names
        on counter_usage.platform = platform_names.counter_platform
    -- PR holds the platform totals; TR/DR/IR would count the same use again
    where
        counter_usage.report_id = 'PR'
        and counter_usage.platform is not null
    group by coalesce(platform_names.platform, counter_usage.platform), counter_usage.month

),

joined as (

    select
        coalesce(proxy_monthly.platform, counter_monthly.platform) as platform,
        coalesce(proxy_monthly.month, counter_monthly.month) as month,
        coalesce(proxy_monthly.proxy_sessions, 0) as proxy_sessions,
        coalesce(proxy_monthly.proxy_requests, 0) as proxy_requests,
        counter_monthly.counter_total_item_requests,
        counter_monthly.counter_unique_item_requests,
        counter_monthly.counter_searches_platform,
        counter_monthly.platform is not null as has_counter
    from proxy_monthly
    full outer join counter_monthly
        on
            proxy_monthly.platform = counter_monthly.platform
            and proxy_monthly.month = counter_monthly.month

),

final as (

    select
        md5(platform || chr(31) || month::text) as reconciliation_key,
        platform::text as platform,
        month::date as month,
        proxy_sessions::bigint as proxy_sessions,
        proxy_requests::bigint as proxy_requests,
        counter_total_item_requests::bigint as counter_total_item_requests,
        counter_unique_item_requests::bigint as counter_unique_item_requests,
        counter_searches_platform::bigint as counter_searches_platform,
        round(
            counter_total_item_requests::numeric / nullif(proxy_sessions, 0), 3
        )::numeric(12, 3) as counter_requests_per_proxy_session,
        (case
            when not has_counter then 'proxy_only'
            when proxy_sessions = 0 then 'counter_only'
            when coalesce(counter_total_item_requests, 0) < proxy_sessions
                then 'counter_below_proxy'
            else 'ok'
        end)::text as reconciliation_flag
    from joined

)

select * from final
