-- Each EZproxy request with its platform, whether it was use, a static asset, denied or an
-- error, and whether it came from campus. Platforms and campus ranges are matched once per
-- distinct host and network (a few thousand), not once per request (tens of millions).
-- Incremental (macros/incremental.sql): each build classifies the requests of the batches it
-- has not taken in yet and appends them; a request's class depends on nothing but its own row
-- and the seeds; a change to the eresource_platforms or campus_networks seed changes the
-- model's fingerprint and the next build rebuilds it in full.
--
-- Narrow on purpose (issue #14): a row per proxy line, 20 M a year at the reference size, so it
-- keeps only what int_eresource_requests_sessionised reads; the host, status, bytes and path stay
-- in the landing table. The requests CTE is read three times (the row itself, its distinct hosts,
-- its distinct networks), so PostgreSQL writes it to disk once: only the columns used go there.
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        unlogged=True,
        indexes=[
            {'columns': ['batch_id']},
            {'columns': ['login_key', 'platform', 'requested_at']},
        ],
        pre_hook=[
            "{{ incremental_prepare(
                'ezproxy', 1, 'ezproxy_requests', eresource_classification_fingerprint()
            ) }}",
            "{{ build_memory() }}",
        ],
        post_hook=[
            "{{ incremental_record(
                'ezproxy', 1, 'ezproxy_requests', eresource_classification_fingerprint()
            ) }}",
            "{{ enforce_columns(
                not_null=['request_id', 'platform', 'request_class', 'requested_at', 'batch_id'],
                checks={'request_class_known': eresource_request_class_check()},
            ) }}",
        ],
    )
}}

with

requests as (

    select
        request_id,
        login_key,
        client_network,
        on_campus_at_ingest,
        site_host,
        http_status,
        -- a style sheet, script, image or font (the path itself is not carried further)
        url_path ~* '\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|bmp|woff2?|ttf|otf|eot)$' as static_path,
        requested_at,
        batch_id
    from {{ ref('stg_ezproxy__requests') }}
    {%- if is_incremental() %}
        where batch_id in ({{ incremental_new_batches(1, 'ezproxy_requests') }})
    {%- endif %}

),

platforms as (

    select * from {{ ref('eresource_platforms') }}

),

campus_networks as (

    select * from {{ ref('campus_networks') }}

),

hosts as (

    select distinct site_host
    from requests
    where site_host is not null

),

-- host_pattern is a domain suffix; the longest matching pattern wins
-- (onlinelibrary.wiley.com before wiley.com).
host_platforms as (

    select distinct on (hosts.site_host)
        hosts.site_host,
        platforms.platform,
        platforms.publisher
    from hosts
    inner join platforms
        on
            hosts.site_host = platforms.host_pattern
            or right(hosts.site_host, length(platforms.host_pattern) + 1)
            = '.' || platforms.host_pattern
    order by hosts.site_host, length(platforms.host_pattern) desc

),

networks as (

    select distinct client_network
    from requests
    where client_network is not null

),

network_campus as (

    select
        networks.client_network,
        -- network_subeq(a, b) is a <<= b: the /24 lies inside one of the campus ranges
        exists(
            select 1
            from campus_networks
            where network_subeq(networks.client_network, campus_networks.network)
        ) as on_campus
    from networks

),

classified as (

    select
        requests.request_id,
        requests.login_key,
        coalesce(host_platforms.platform, 'Other') as platform,
        host_platforms.publisher,
        -- the ingest saw the full address; the seed only sees its /24
        coalesce(requests.on_campus_at_ingest, network_campus.on_campus) as on_campus,
        case
            when requests.http_status in (401, 403, 407) then 'denied'
            when requests.static_path then 'static'
            when requests.http_status >= 400 then 'error'
            else 'use'
        end as request_class,
        requests.requested_at,
        requests.batch_id
    from requests
    left join host_platforms
        on requests.site_host = host_platforms.site_host
    left join network_campus
        on requests.client_network = network_campus.client_network

)

select * from classified
