-- The "second classroom" (第二课堂) transcript extract: the information-literacy training each
-- student attended, per term and series, with the credit hours the university's second-classroom
-- system imports (one CSV per term, student key, series, hours). Students who opted out of
-- profiling are left out, as from every export. A session without credit hours in the catalogue
-- counts var training_default_hours.
with

attendance as (

    select * from {{ ref('fct_training_attendance') }}
    where attended and user_key is not null

),

students as (

    select * from {{ ref('dim_user') }}
    where user_type = 'student' and consent_profiling

),

final as (

    select
        attendance.term::text as term,
        attendance.user_key::text as user_key,
        attendance.series::text as series,
        count(*)::integer as sessions_attended,
        sum(coalesce(attendance.session_hours, {{ var('training_default_hours', 1.5) }}))::numeric as hours
    from attendance
    inner join students
        on attendance.user_key = students.user_key
    group by attendance.term, attendance.user_key, attendance.series

)

select * from final
