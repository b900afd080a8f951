-- Koha logs events, not loans: a loan is an issue (or an on-site checkout), closed by the next
-- return of the same item. Events are numbered per item in time order; every issue opens a new
-- loan, and the returns and renewals that follow it (before the next issue) belong to that loan.
with

events as (

    select * from {{ ref('int_koha_events_deduplicated') }}

),

circulation as (

    select
        event_key,
        item_id,
        patron_key,
        card_key,
        -- an on-site checkout is a loan that ends in the library
        case when event_type = 'onsite_checkout' then 'issue' else event_type end as event_type,
        event_at,
        -- at the same second, Koha checks an item in before lending it to the next borrower
        case event_type when 'return' then 0 when 'renew' then 2 else 1 end as same_time_order
    from events
    -- an event without a time or an item cannot be placed in an item's history
    where
        event_type in ('issue', 'onsite_checkout', 'return', 'renew')
        and item_id is not null
        and event_at is not null

),

sequenced as (

    select
        circulation.*,
        count(*) filter (where event_type = 'issue') over item_history as loan_sequence,
        row_number() over item_history as item_position
    from circulation
    window item_history as (
        partition by item_id
        order by event_at, same_time_order, event_key
        rows between unbounded preceding and current row
    )

),

issues as (

    select
        event_key,
        item_id,
        patron_key,
        card_key,
        event_at as loaned_at,
        loan_sequence
    from sequenced
    where event_type = 'issue'

),

returns as (

    select
        item_id,
        loan_sequence,
        min(event_at) as returned_at,
        min(item_position) as return_position
    from sequenced
    where
        event_type = 'return'
        and loan_sequence > 0
    group by item_id, loan_sequence

),

renewals as (

    select
        sequenced.item_id,
        sequenced.loan_sequence,
        count(*) as renewals
    from sequenced
    left join returns
        on
            sequenced.item_id = returns.item_id
            and sequenced.loan_sequence = returns.loan_sequence
    where
        sequenced.event_type = 'renew'
        and sequenced.loan_sequence > 0
        -- a renewal recorded after the return (same second included) is not part of the loan
        and (returns.return_position is null or sequenced.item_position < returns.return_position)
    group by sequenced.item_id, sequenced.loan_sequence

),

final as (

    select
        md5('koha|' || issues.event_key) as loan_key,
        issues.item_id,
        issues.patron_key,
        issues.card_key,
        issues.loaned_at,
        returns.returned_at,
        coalesce(renewals.renewals, 0)::integer as renewals
    from issues
    left join returns
        on
            issues.item_id = returns.item_id
            and issues.loan_sequence = returns.loan_sequence
    left join renewals
        on
            issues.item_id = renewals.item_id
            and issues.loan_sequence = renewals.loan_sequence

)

select * from final
