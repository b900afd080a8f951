-- A library runs Koha, FOLIO or Evergreen (or migrates from one to another): loans of all, one shape.
with

koha_loans as (

    select * from {{ ref('int_koha_loans_paired_from_events') }}

),

folio_loans as (

    select * from {{ ref('int_folio_loans_latest') }}

),

evergreen_loans as (

    select * from {{ ref('int_evergreen_loans_from_circulations') }}

),

unioned as (

    select
        loan_key,
        'koha' as ils,
        item_id,
        patron_key,
        card_key,
        loaned_at,
        -- Koha's statistics table does not record the due date
        null::timestamptz as due_at,
        returned_at,
        renewals
    from koha_loans

    union all

    select
        loan_key,
        'folio' as ils,
        item_id,
        patron_key,
        -- FOLIO loans name the user, not the card
        null::text as card_key,
        loaned_at,
        due_at,
        returned_at,
        renewals
    from folio_loans

    union all

    select
        loan_key,
        'evergreen' as ils,
        item_id,
        patron_key,
        -- Evergreen's circulation names the patron, not the card
        null::text as card_key,
        loaned_at,
        due_at,
        returned_at,
        renewals
    from evergreen_loans

)

select * from unioned
