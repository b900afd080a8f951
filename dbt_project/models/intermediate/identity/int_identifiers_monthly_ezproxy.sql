-- Each EZproxy login's requests per month (library time zone): first and last request and how
-- many, the EZproxy part of int_identifiers_monthly. Incremental (macros/incremental.sql), a
-- step of the e-resource chain after int_eresource_requests_classified: each build aggregates
-- the requests of the batches it has not taken in yet and merges them into the months they
-- touch (min, max and sum combine exactly), so a daily build reads the day's requests, not the
-- whole history; a late file merges into its old month. When the chain rebuilds (a retention
-- run, a replaced batch, a changed seed), so does this model. Unlogged like the chain's other tables
-- (macros/build_settings.sql): a crash recovery empties it and the next build rebuilds it.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key=['login_key', 'month'],
        on_schema_change='fail',
        unlogged=True,
        indexes=[
            {'columns': ['login_key', 'month'], 'unique': True},
        ],
        pre_hook="{{ incremental_prepare('ezproxy', 4, 'int_eresource_requests_classified') }}",
        post_hook="{{ incremental_record('ezproxy', 4, 'int_eresource_requests_classified') }}",
    )
}}

with

requests as (

    select
        login_key,
        requested_at
    from {{ ref('int_eresource_requests_classified') }}
    {%- if is_incremental() %}
        where batch_id in ({{ incremental_new_batches(4, 'int_eresource_requests_classified') }})
    {%- endif %}

),

new_months as (

    select
        login_key,
        date_trunc('month', {{ local_date('requested_at') }})::date as month,
        min(requested_at) as first_seen_at,
        max(requested_at) as last_seen_at,
        count(*) as requests
    from requests
    where login_key is not null and requested_at is not null
    group by login_key, date_trunc('month', {{ local_date('requested_at') }})::date

),

-- in an incremental build, the months already taken in that the new requests touch, merged with
-- them (in a full build every month is new and the merge groups nothing)
combined as (

    select * from new_months
    {%- if is_incremental() %}

        union all

        select
            taken.login_key,
            taken.month,
            taken.first_seen_at,
            taken.last_seen_at,
            taken.requests
        from {{ this }} as taken
        inner join new_months
            on taken.login_key = new_months.login_key and taken.month = new_months.month
    {%- endif %}

),

final as (

    select
        login_key,
        month,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        sum(requests)::bigint as requests
    from combined
    group by login_key, month

)

select
    login_key::text as login_key,
    month::date as month,
    first_seen_at::timestamptz as first_seen_at,
    last_seen_at::timestamptz as last_seen_at,
    requests::bigint as requests
from final
