-- One row per loan of either ILS. Loans of users who opted out of profiling stay here (they are
-- counted in aggregates); only persona marts drop them.
with

loans as (

    select * from {{ ref('int_loans_unioned') }}

),

patron_links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind = 'patron'

),

items as (

    select * from {{ ref('int_items_latest') }}

),

classes as (

    select * from {{ ref('clc_classes') }}

),

final as (

    select
        loans.loan_key::text as loan_key,
        patron_links.user_key::text as user_key,
        loans.ils::text as ils,
        loans.item_id::text as item_id,
        classes.letter::text as subject_class,
        loans.loaned_at::timestamptz as loaned_at,
        loans.due_at::timestamptz as due_at,
        loans.returned_at::timestamptz as returned_at,
        loans.renewals::integer as renewals,
        {{ local_date('loans.loaned_at') }} as loan_date
    from loans
    left join patron_links
        on loans.patron_key = patron_links.identifier_key
    left join items
        on
            loans.ils = items.ils
            and loans.item_id = items.item_id
    left join classes
        on items.call_number_letter = classes.letter

)

select * from final
