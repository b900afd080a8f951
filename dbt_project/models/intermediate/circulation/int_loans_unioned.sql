-- A library runs Koha or FOLIO (or migrates from one to the other): loans of both, one shape.
with

koha_loans as (

    select * from {{ ref('int_koha_loans_paired_from_events') }}

),

folio_loans as (

    select * from {{ ref('int_folio_loans_latest') }}

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

)

select * from unioned
