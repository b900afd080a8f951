-- Evergreen writes a renewal as a new circulation pointing at the one it renews (parent_circ):
-- a loan is a checkout and the renewals after it. A copy goes to one borrower at a time, so in
-- the copy's circulations ordered by start, each checkout (no parent, or a parent no export
-- holds) opens a loan and every renewal that follows belongs to it. The same circulation may
-- come in several exports: a returned copy wins, then the latest load's.
with

circulations as (

    select * from {{ ref('stg_circulation__evergreen_circulations') }}

),

loads as (

    select * from {{ ref('stg_circulation__loads') }}

),

latest as (

    select distinct on (circulations.circ_id) circulations.*
    from circulations
    left join loads
        on circulations.batch_id = loads.batch_id
    order by
        circulations.circ_id asc,
        (circulations.returned_at is not null) desc,
        loads.loaded_at desc nulls last,
        circulations.batch_id::text desc,
        circulations.source_line desc

),

flagged as (

    select
        latest.*,
        case
            when latest.parent_circ_id is null then 1
            when not exists (
                select 1
                from latest as parent
                where parent.circ_id = latest.parent_circ_id
            ) then 1
            else 0
        end as starts_loan
    from latest

),

numbered as (

    select
        *,
        sum(starts_loan) over (
            partition by item_id
            order by loaned_at, circ_id
            rows between unbounded preceding and current row
        ) as loan_number
    from flagged

),

chains as (

    select
        item_id,
        loan_number,
        min(circ_id) filter (where starts_loan = 1) as checkout_circ_id,
        count(*) - 1 as renewals
    from numbered
    group by item_id, loan_number

),

-- due and return times are those of the chain's last circulation
last_in_chain as (

    select distinct on (item_id, loan_number)
        item_id,
        loan_number,
        due_at,
        returned_at
    from numbered
    order by item_id asc, loan_number asc, loaned_at desc, circ_id desc

),

final as (

    select
        md5('evergreen|' || checkout.circ_id::text) as loan_key,
        checkout.circ_id,
        checkout.item_id,
        checkout.patron_key,
        checkout.circ_lib,
        checkout.loaned_at,
        last_in_chain.due_at,
        last_in_chain.returned_at,
        chains.renewals::integer as renewals
    from chains
    inner join last_in_chain
        on
            chains.item_id = last_in_chain.item_id
            and chains.loan_number = last_in_chain.loan_number
    inner join latest as checkout
        on chains.checkout_circ_id = checkout.circ_id

)

select * from final
