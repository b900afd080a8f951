-- Every pseudonymous identifier a person carried, with the period it was theirs: the person id
-- itself; cards, logins and ILS patron ids from their versions (an identifier holds from the
-- version that brought it until one that replaced it; a person's first identifier of a kind also
-- covers the time before the data first saw them, and the last one stays theirs until they
-- leave); cards with the validity periods the campus API gives; and FOLIO users' barcode and
-- username, through the person (externalSystemId) or the patron id they belong to. Sources carry
-- cards, logins or ILS patron ids; joining here at an event's time resolves them to one user_key.
-- An identifier two people held at overlapping times cannot say whose activity it carries: it is
-- left out, and activity carrying it stays unresolved instead of being misattributed.
with

versions as (

    select * from {{ ref('int_user_versions') }}

),

known_people as (

    select distinct user_key from versions

),

live_versions as (

    select * from versions
    where not is_deleted

),

-- when a person left for good (their last version is a tombstone or a departure)
departures as (

    select
        user_key,
        valid_from as left_at
    from versions
    where
        is_deleted
        and valid_to is null

),

version_identifiers as (

    select
        user_key,
        version_number,
        valid_from,
        'card' as identifier_kind,
        'card' as slot,
        card_key as identifier_key
    from live_versions
    where card_key is not null

    union all

    select
        user_key,
        version_number,
        valid_from,
        'login' as identifier_kind,
        'login' as slot,
        login_key as identifier_key
    from live_versions
    where login_key is not null

    union all

    select
        user_key,
        version_number,
        valid_from,
        'patron' as identifier_kind,
        'koha' as slot,
        koha_patron_key as identifier_key
    from live_versions
    where koha_patron_key is not null

    union all

    select
        user_key,
        version_number,
        valid_from,
        'patron' as identifier_kind,
        'folio' as slot,
        folio_patron_key as identifier_key
    from live_versions
    where folio_patron_key is not null

),

-- consecutive versions that carry the same identifier in a slot form one run
previous_identifiers as (

    select
        version_identifiers.*,
        lag(identifier_key) over (
            partition by user_key, slot
            order by version_number
        ) as previous_key
    from version_identifiers

),

runs_marked as (

    select
        previous_identifiers.*,
        case when previous_key is null or identifier_key != previous_key then 1 else 0 end as starts_run
    from previous_identifiers

),

runs_numbered as (

    select
        runs_marked.*,
        sum(starts_run) over (
            partition by user_key, slot
            order by version_number
            rows between unbounded preceding and current row
        ) as run_number
    from runs_marked

),

runs as (

    select
        user_key,
        identifier_kind,
        slot,
        identifier_key,
        run_number,
        min(valid_from) as run_start
    from runs_numbered
    group by user_key, identifier_kind, slot, identifier_key, run_number

),

run_periods as (

    select
        runs.identifier_kind,
        runs.identifier_key,
        runs.user_key,
        case when runs.run_number > 1 then runs.run_start end as valid_from,
        coalesce(
            lead(runs.run_start) over (
                partition by runs.user_key, runs.slot
                order by runs.run_number
            ),
            departures.left_at
        ) as valid_to
    from runs
    left join departures
        on runs.user_key = departures.user_key

),

-- every record repeats the person's card list: the latest listing of a card says its validity
-- (a card listed as valid, then as ended by its replacement, ended)
card_listings as (

    select
        cards.*,
        row_number() over (
            partition by cards.user_key, cards.card_key
            order by
                cards.observed_at desc nulls last,
                loads.loaded_at desc nulls last,
                cards.batch_id::text desc,
                cards.source_line desc
        ) as recency
    from {{ ref('stg_campus__cards') }} as cards
    left join {{ ref('stg_campus__roster_loads') }} as loads
        on cards.batch_id = loads.batch_id

),

card_periods as (

    select
        'card' as identifier_kind,
        card_listings.card_key as identifier_key,
        card_listings.user_key,
        card_listings.valid_from,
        card_listings.valid_to
    from card_listings
    inner join known_people
        on card_listings.user_key = known_people.user_key
    where card_listings.recency = 1

),

folio_users as (

    select * from {{ ref('stg_campus__folio_users') }}

),

folio_patrons as (

    select distinct
        identifier_key as patron_key,
        user_key
    from run_periods
    where identifier_kind = 'patron'

),

-- a FOLIO user belongs to the person its externalSystemId names, else to whoever holds its id
folio_owners as (

    select distinct
        folio_users.patron_key,
        folio_users.card_key,
        folio_users.login_key,
        coalesce(named.user_key, folio_patrons.user_key) as user_key
    from folio_users
    left join known_people as named
        on folio_users.user_key = named.user_key
    left join folio_patrons
        on folio_users.patron_key = folio_patrons.patron_key
    where coalesce(named.user_key, folio_patrons.user_key) is not null

),

folio_links as (

    select
        user_key,
        'patron' as identifier_kind,
        patron_key as identifier_key
    from folio_owners

    union all

    select
        user_key,
        'card' as identifier_kind,
        card_key as identifier_key
    from folio_owners
    where card_key is not null

    union all

    select
        user_key,
        'login' as identifier_kind,
        login_key as identifier_key
    from folio_owners
    where login_key is not null

),

all_links as (

    select
        user_key,
        'person' as identifier_kind,
        user_key as identifier_key,
        null::timestamptz as valid_from,
        null::timestamptz as valid_to
    from known_people

    union all

    select
        user_key,
        identifier_kind,
        identifier_key,
        valid_from,
        valid_to
    from run_periods

    union all

    select
        user_key,
        identifier_kind,
        identifier_key,
        valid_from,
        valid_to
    from card_periods

    union all

    select
        user_key,
        identifier_kind,
        identifier_key,
        null::timestamptz as valid_from,
        null::timestamptz as valid_to
    from folio_links

),

-- one period per stretch of time an identifier was one person's (overlaps and repeats merged)
merged as (

    select
        identifier_kind,
        identifier_key,
        user_key,
        unnest(range_agg(tstzrange(valid_from, valid_to, '[)'))) as validity
    from all_links
    where valid_from is null or valid_to is null or valid_from < valid_to
    group by identifier_kind, identifier_key, user_key

),

ambiguous as (

    select distinct
        merged.identifier_kind,
        merged.identifier_key
    from merged
    inner join merged as other
        on
            merged.identifier_kind = other.identifier_kind
            and merged.identifier_key = other.identifier_key
            and merged.user_key != other.user_key
            and merged.validity && other.validity

),

final as (

    select
        merged.identifier_kind,
        merged.identifier_key,
        merged.user_key,
        lower(merged.validity) as valid_from,
        upper(merged.validity) as valid_to
    from merged
    left join ambiguous
        on
            merged.identifier_kind = ambiguous.identifier_kind
            and merged.identifier_key = ambiguous.identifier_key
    where ambiguous.identifier_key is null

)

select * from final
