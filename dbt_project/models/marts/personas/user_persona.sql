-- Individual personas, for users who consented to profiling only. Users with no loan are kept:
-- they are the library's potential users. The window ends at the newest loan in the data, not
-- at the wall clock, so that a rebuild of the same data gives the same personas.
with

users as (

    select * from {{ ref('dim_user') }}
    where consent_profiling

),

loans as (

    select * from {{ ref('fct_loans') }}
    where user_key is not null

),

persona_window as (

    select
        max(loaned_at) as window_end,
        max(loaned_at) - interval '1 day' * {{ var('persona_window_days') }} as window_start
    from {{ ref('fct_loans') }}

),

loan_activity as (

    select
        loans.user_key,
        count(*) filter (
            where loans.loaned_at >= persona_window.window_start
        ) as loans_in_window,
        count(distinct loans.subject_class) filter (
            where loans.loaned_at >= persona_window.window_start
        ) as distinct_subject_classes,
        max(greatest(loans.loaned_at, loans.returned_at)) as last_activity_at
    from loans
    cross join persona_window
    group by loans.user_key

),

final as (

    select
        users.user_key::text as user_key,
        users.user_type::text as user_type,
        users.user_group::text as user_group,
        coalesce(users.college_name, users.college_code)::text as college,
        coalesce(users.major_name, users.major_code)::text as major,
        users.year_of_study::integer as year_of_study,
        coalesce(loan_activity.loans_in_window, 0)::integer as loans_in_window,
        coalesce(loan_activity.distinct_subject_classes, 0)::integer as distinct_subject_classes,
        {{ local_date('loan_activity.last_activity_at') }} as last_activity_date
    from users
    left join loan_activity
        on users.user_key = loan_activity.user_key

)

select * from final
