{{
    config(
        schema='exports',
        materialized='table',
        post_hook=["analyze {{ this }}", "{{ grant_to_exporter() }}"],
    )
}}

-- Personal recommendations, by item co-borrowing within the major (no trained model): for each
-- user who allows profiling and has a major, the items and e-resource platforms that at least
-- k_anonymity other users of the same major used in the persona window and this user never has.
-- Items come first when classmates who borrowed what this user borrowed also borrowed them (the
-- co-borrowers: a similar subject profile), then by how many classmates used them. At most
-- recommendations_per_user per user, each with its reason in words. This model lives in the
-- `exports` schema, which no BI role can read: it leaves the warehouse only through the
-- reading_recommendations export contract.
with

users as (

    select * from {{ ref('dim_user') }}
    where major_code is not null

),

recipients as (

    select
        user_key,
        major_code,
        coalesce(major_name, major_code) as major
    from users
    where consent_profiling

),

period as (

    select * from {{ ref('int_persona_period') }}

),

items as (

    select * from {{ ref('int_items_latest') }}

),

all_loans as (

    select distinct
        user_key,
        ils,
        item_id,
        subject_class,
        loaned_at
    from {{ ref('fct_loans') }}
    where user_key is not null

),

all_sessions as (

    select distinct
        user_key,
        platform,
        started_at
    from {{ ref('fct_eresource_sessions') }}
    where user_key is not null and platform is not null

),

-- what each member of a major borrowed or used in the window (everyone counts, as in aggregates)
major_loans as (

    select distinct
        users.major_code,
        all_loans.user_key,
        all_loans.ils,
        all_loans.item_id,
        all_loans.subject_class
    from all_loans
    inner join users
        on all_loans.user_key = users.user_key
    cross join period
    where all_loans.loaned_at > period.window_start and all_loans.loaned_at <= period.window_end

),

major_sessions as (

    select distinct
        users.major_code,
        all_sessions.user_key,
        all_sessions.platform
    from all_sessions
    inner join users
        on all_sessions.user_key = users.user_key
    cross join period
    where all_sessions.started_at > period.window_start and all_sessions.started_at <= period.window_end

),

popular_items as (

    select
        major_code,
        ils,
        item_id,
        max(subject_class) as subject_class,
        count(distinct user_key) as borrowers
    from major_loans
    group by major_code, ils, item_id
    having count(distinct user_key) >= {{ var('k_anonymity') }}

),

popular_platforms as (

    select
        major_code,
        platform,
        count(distinct user_key) as platform_users
    from major_sessions
    group by major_code, platform
    having count(distinct user_key) >= {{ var('k_anonymity') }}

),

-- classmates who borrowed at least one item the recipient borrowed in the window
co_borrowers as (

    select distinct
        recipients.user_key,
        classmate.user_key as classmate_key
    from recipients
    inner join major_loans as own
        on recipients.user_key = own.user_key
    inner join major_loans as classmate
        on
            own.major_code = classmate.major_code
            and own.ils = classmate.ils
            and own.item_id = classmate.item_id
            and own.user_key <> classmate.user_key

),

co_borrowed as (

    select
        co_borrowers.user_key,
        major_loans.ils,
        major_loans.item_id,
        count(distinct co_borrowers.classmate_key) as co_borrowers
    from co_borrowers
    inner join recipients
        on co_borrowers.user_key = recipients.user_key
    inner join major_loans
        on
            co_borrowers.classmate_key = major_loans.user_key
            and recipients.major_code = major_loans.major_code
    group by co_borrowers.user_key, major_loans.ils, major_loans.item_id

),

item_candidates as (

    select
        recipients.user_key,
        recipients.major,
        'item' as kind,
        popular_items.ils,
        popular_items.item_id,
        popular_items.subject_class,
        null::text as platform,
        popular_items.borrowers as classmates,
        coalesce(co_borrowed.co_borrowers, 0) as co_borrowers
    from recipients
    inner join popular_items
        on recipients.major_code = popular_items.major_code
    left join co_borrowed
        on
            recipients.user_key = co_borrowed.user_key
            and popular_items.ils = co_borrowed.ils
            and popular_items.item_id = co_borrowed.item_id
    where not exists (
        select 1 from all_loans
        where
            all_loans.user_key = recipients.user_key
            and all_loans.ils = popular_items.ils
            and all_loans.item_id = popular_items.item_id
    )

),

platform_candidates as (

    select
        recipients.user_key,
        recipients.major,
        'platform' as kind,
        null::text as ils,
        null::text as item_id,
        null::text as subject_class,
        popular_platforms.platform,
        popular_platforms.platform_users as classmates,
        0 as co_borrowers
    from recipients
    inner join popular_platforms
        on recipients.major_code = popular_platforms.major_code
    where not exists (
        select 1 from all_sessions
        where
            all_sessions.user_key = recipients.user_key
            and all_sessions.platform = popular_platforms.platform
    )

),

candidates as (

    select * from item_candidates
    union all
    select * from platform_candidates

),

ranked as (

    select
        candidates.*,
        row_number() over (
            partition by user_key
            order by co_borrowers desc, classmates desc, kind asc, platform asc, ils asc, item_id asc
        ) as recommendation_rank
    from candidates

),

final as (

    select
        ranked.user_key::text as user_key,
        ranked.recommendation_rank::integer as recommendation_rank,
        ranked.kind::text as kind,
        ranked.ils::text as ils,
        ranked.item_id::text as item_id,
        items.call_number::text as call_number,
        ranked.subject_class::text as subject_class,
        ranked.platform::text as platform,
        ranked.major::text as major,
        ranked.classmates::bigint as classmate_users,
        (case when ranked.co_borrowers >= {{ var('k_anonymity') }} then ranked.co_borrowers end)::bigint
        as co_borrower_users,
        (
            case ranked.kind when 'item' then 'borrowed by ' else 'used by ' end
            || ranked.classmates || ' classmates in your major (' || ranked.major || ') in the last '
            || {{ var('persona_window_days') }} || ' days'
            || case
                when ranked.co_borrowers >= {{ var('k_anonymity') }}
                    then ', ' || ranked.co_borrowers || ' of whom also borrowed books you borrowed'
                else ''
            end
        )::text as reason,
        period.window_end_date::date as window_end_date
    from ranked
    cross join period
    left join items
        on
            ranked.ils = items.ils
            and ranked.item_id = items.item_id
    where ranked.recommendation_rank <= {{ var('recommendations_per_user', 5) }}

)

select * from final
