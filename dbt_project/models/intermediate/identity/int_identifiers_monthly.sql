-- Every identifier each activity source carried in each month (local time), and whether it
-- resolves to a person at those times. Unresolved identifiers are kept here (pseudonymous) so
-- that data engineers can look into them; the mart identity_resolution_monthly counts them.
-- An identifier resolves in a month when one of its links is valid at some point between its
-- first and last event of that month.
with

koha_events as (

    select * from {{ ref('int_koha_events_deduplicated') }}
    where event_at is not null

),

folio_loans as (

    select * from {{ ref('int_folio_loans_latest') }}

),

-- EZproxy's logins are aggregated by month incrementally (int_identifiers_monthly_ezproxy):
-- the daily build no longer converts and groups every request of the history
ezproxy_monthly as (

    select * from {{ ref('int_identifiers_monthly_ezproxy') }}

),

links as (

    select * from {{ ref('int_identity_links') }}

),

identifiers as (

    select
        'circulation_koha' as source,
        'patron' as identifier_kind,
        patron_key as identifier_key,
        event_at as seen_at
    from koha_events
    where patron_key is not null
    union all
    select
        'circulation_koha' as source,
        'card' as identifier_kind,
        card_key as identifier_key,
        event_at as seen_at
    from koha_events
    where card_key is not null
    union all
    select
        'circulation_folio' as source,
        'patron' as identifier_kind,
        patron_key as identifier_key,
        loaned_at as seen_at
    from folio_loans
    where patron_key is not null

),

monthly as (

    select
        source,
        identifier_kind,
        identifier_key,
        date_trunc('month', {{ local_date('seen_at') }})::date as month,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        count(*) as events
    from identifiers
    group by source, identifier_kind, identifier_key, date_trunc('month', {{ local_date('seen_at') }})::date

    union all

    select
        'ezproxy' as source,
        'login' as identifier_kind,
        login_key as identifier_key,
        month,
        first_seen_at,
        last_seen_at,
        requests as events
    from ezproxy_monthly

),

-- the identifiers with a link valid within their month: a hash join on (kind, key), not a
-- correlated exists per identifier and month (which scanned every link each time: quadratic)
resolved as (

    select distinct
        monthly.source,
        monthly.month,
        monthly.identifier_kind,
        monthly.identifier_key
    from monthly
    inner join links
        on
            monthly.identifier_kind = links.identifier_kind
            and monthly.identifier_key = links.identifier_key
            and (links.valid_from is null or monthly.last_seen_at >= links.valid_from)
            and (links.valid_to is null or monthly.first_seen_at < links.valid_to)

),

final as (

    select
        monthly.source,
        monthly.month,
        monthly.identifier_kind,
        monthly.identifier_key,
        monthly.first_seen_at,
        monthly.last_seen_at,
        monthly.events::integer as events,
        resolved.identifier_key is not null as is_resolved
    from monthly
    left join resolved
        on
            monthly.source = resolved.source
            and monthly.month = resolved.month
            and monthly.identifier_kind = resolved.identifier_kind
            and monthly.identifier_key = resolved.identifier_key

)

select * from final
