-- One row per loan of either ILS. Loans of users who opted out of profiling stay here (they are
-- counted in aggregates); only persona marts drop them. The borrower is resolved at the time of
-- the loan: by the ILS patron id, else by the card it was made on (a replaced card still resolves
-- to its holder); their type, group, college, major and class are the ones valid then.
with

loans as (

    select * from {{ ref('int_loans_unioned') }}

),

links as (

    select * from {{ ref('int_identity_links') }}
    where identifier_kind in ('patron', 'card')

),

versions as (

    select * from {{ ref('int_user_versions') }}
    where not is_deleted

),

items as (

    select * from {{ ref('int_items_latest') }}

),

classes as (

    select * from {{ ref('clc_classes') }}

),

resolved as (

    select
        loans.*,
        coalesce(by_patron.user_key, by_card.user_key) as user_key
    from loans
    left join links as by_patron
        on
            by_patron.identifier_kind = 'patron'
            and loans.patron_key = by_patron.identifier_key
            and (by_patron.valid_from is null or loans.loaned_at >= by_patron.valid_from)
            and (by_patron.valid_to is null or loans.loaned_at < by_patron.valid_to)
    left join links as by_card
        on
            by_card.identifier_kind = 'card'
            and loans.card_key = by_card.identifier_key
            and (by_card.valid_from is null or loans.loaned_at >= by_card.valid_from)
            and (by_card.valid_to is null or loans.loaned_at < by_card.valid_to)

),

at_event as (

    select
        resolved.*,
        versions.user_type,
        versions.degree_level,
        versions.entry_year,
        versions.expected_graduation_year,
        versions.college_code,
        versions.major_code,
        versions.class_code,
        {{ academic_year_of(local_date('resolved.loaned_at')) }} as academic_year
    from resolved
    left join versions
        on
            resolved.user_key = versions.user_key
            and (versions.effective_from is null or resolved.loaned_at >= versions.effective_from)
            and (versions.effective_to is null or resolved.loaned_at < versions.effective_to)

),

final as (

    select
        at_event.loan_key::text as loan_key,
        at_event.user_key::text as user_key,
        at_event.ils::text as ils,
        at_event.item_id::text as item_id,
        classes.letter::text as subject_class,
        at_event.loaned_at::timestamptz as loaned_at,
        at_event.due_at::timestamptz as due_at,
        at_event.returned_at::timestamptz as returned_at,
        at_event.renewals::integer as renewals,
        {{ local_date('at_event.loaned_at') }} as loan_date,
        at_event.user_type::text as user_type,
        {{ user_group('at_event.user_type', 'at_event.degree_level', 'at_event.entry_year',
                      'at_event.expected_graduation_year', 'at_event.academic_year') }} as user_group,
        at_event.college_code::text as college_code,
        at_event.major_code::text as major_code,
        at_event.class_code::text as class_code
    from at_event
    left join items
        on
            at_event.ils = items.ils
            and at_event.item_id = items.item_id
    left join classes
        on items.call_number_letter = classes.letter

)

select * from final
