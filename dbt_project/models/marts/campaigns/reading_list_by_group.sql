-- Reading lists: the items most borrowed in each major, college and user group over the persona
-- window, ranked by distinct borrowers (not loans: one heavy reader cannot fill a list). An item
-- borrowed by fewer than k_anonymity distinct users is left out, so no list reveals what one or a
-- few people read. Everyone's loans count, opted-out users included (an aggregate, as in
-- group_persona); the major, college and group are the borrower's at the time of the loan.
with

loans as (

    select * from {{ ref('fct_loans') }}
    where user_key is not null

),

period as (

    select * from {{ ref('int_persona_period') }}

),

items as (

    select * from {{ ref('int_items_latest') }}

),

in_window as (

    select loans.*
    from loans
    cross join period
    where
        loans.loaned_at > period.window_start
        and loans.loaned_at <= period.window_end

),

by_list as (

    select
        'major' as list_level,
        major_code as list_group,
        ils,
        item_id,
        subject_class,
        user_key
    from in_window
    where major_code is not null
    union all
    select
        'college' as list_level,
        college_code as list_group,
        ils,
        item_id,
        subject_class,
        user_key
    from in_window
    where college_code is not null
    union all
    select
        'user_group' as list_level,
        user_group as list_group,
        ils,
        item_id,
        subject_class,
        user_key
    from in_window
    where user_group is not null

),

counted as (

    select
        list_level,
        list_group,
        ils,
        item_id,
        max(subject_class) as subject_class,
        count(distinct user_key) as borrowing_users,
        count(*) as loans
    from by_list
    group by list_level, list_group, ils, item_id
    having count(distinct user_key) >= {{ var('k_anonymity') }}

),

ranked as (

    select
        counted.*,
        row_number() over (
            partition by list_level, list_group
            order by borrowing_users desc, loans desc, ils asc, item_id asc
        ) as list_rank
    from counted

),

final as (

    select
        ranked.list_level::text as list_level,
        ranked.list_group::text as list_group,
        ranked.list_rank::integer as list_rank,
        ranked.ils::text as ils,
        ranked.item_id::text as item_id,
        items.call_number::text as call_number,
        ranked.subject_class::text as subject_class,
        ranked.borrowing_users::bigint as borrowing_users,
        ranked.loans::bigint as loans,
        {{ local_date('period.window_start') }} as window_start_date,
        period.window_end_date::date as window_end_date
    from ranked
    cross join period
    left join items
        on
            ranked.ils = items.ils
            and ranked.item_id = items.item_id
    where ranked.list_rank <= {{ var('reading_list_top_n', 20) }}

)

select * from final
