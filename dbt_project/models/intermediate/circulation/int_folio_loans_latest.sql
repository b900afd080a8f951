-- Overlapping FOLIO exports repeat a loan, possibly in different states. A closed loan never
-- reopens, so its returned copy wins; otherwise the copy from the latest load wins.
with

loans as (

    select * from {{ ref('stg_circulation__folio_loans') }}

),

loads as (

    select * from {{ ref('stg_circulation__loads') }}

),

keyed as (

    select
        loans.*,
        loads.loaded_at,
        -- a loan without its UUID is known by item, start time and borrower
        coalesce(
            loans.loan_id,
            concat_ws(
                '|', loans.item_id, {{ epoch_text('loans.loaned_at') }},
                coalesce(loans.patron_key, '')
            )
        ) as natural_key
    from loans
    left join loads
        on loans.batch_id = loads.batch_id

),

ranked as (

    select
        keyed.*,
        row_number() over (
            partition by natural_key
            order by
                (returned_at is not null) desc,
                loaded_at desc nulls last,
                batch_id::text desc,
                source_line desc
        ) as recency
    from keyed

),

final as (

    select
        md5('folio|' || natural_key) as loan_key,
        loan_id,
        item_id,
        patron_key,
        status_name,
        loaned_at,
        due_at,
        returned_at,
        renewals
    from ranked
    where recency = 1

)

select * from final
