-- Every pseudonymous identifier of the current roster, pointing at its person. Sources carry
-- cards, logins or ILS patron ids; joining here resolves them to the one user_key.
with

people as (

    select * from {{ ref('int_people_from_latest_roster') }}

),

identifiers as (

    select
        'person' as identifier_kind,
        user_key as identifier_key,
        user_key
    from people
    union all
    select
        'card' as identifier_kind,
        card_key as identifier_key,
        user_key
    from people
    where card_key is not null
    union all
    select
        'login' as identifier_kind,
        login_key as identifier_key,
        user_key
    from people
    where login_key is not null
    union all
    select
        'patron' as identifier_kind,
        koha_patron_key as identifier_key,
        user_key
    from people
    where koha_patron_key is not null
    union all
    select
        'patron' as identifier_kind,
        folio_patron_key as identifier_key,
        user_key
    from people
    where folio_patron_key is not null

),

distinct_links as (

    select distinct
        identifier_kind,
        identifier_key,
        user_key
    from identifiers

),

-- An identifier the roster gives to two people (a re-issued card, a data-entry slip) cannot
-- say whose activity it carries: leave that activity unresolved rather than guess.
ambiguous as (

    select
        identifier_kind,
        identifier_key
    from distinct_links
    group by identifier_kind, identifier_key
    having count(*) > 1

),

final as (

    select
        distinct_links.identifier_kind,
        distinct_links.identifier_key,
        distinct_links.user_key
    from distinct_links
    left join ambiguous
        on
            distinct_links.identifier_kind = ambiguous.identifier_kind
            and distinct_links.identifier_key = ambiguous.identifier_key
    where ambiguous.identifier_key is null

)

select * from final
