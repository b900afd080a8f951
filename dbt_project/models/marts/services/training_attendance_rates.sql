-- Attendance rate by training series and user group: attendances over registrations whose
-- attendance was recorded. Registrants not on the roster count as one person together.
with

attendance as (

    select * from {{ ref('fct_training_attendance') }}

),

users as (

    select * from {{ ref('dim_user') }}

),

cells as (

    select
        attendance.series,
        users.user_group,
        count(distinct coalesce(attendance.user_key, '(unresolved)')) as registered_users,
        count(distinct attendance.session_id) as sessions,
        count(*) as registrations,
        count(attendance.attended) as recorded_registrations,
        count(*) filter (where attendance.attended) as attendances
    from attendance
    left join users
        on attendance.user_key = users.user_key
    group by attendance.series, users.user_group

),

flagged as (

    select
        cells.*,
        {{ services_suppression_reason('registered_users', 'series') }} as suppressed
    from cells

),

final as (

    select
        series::text as series,
        user_group::text as user_group,
        (case when suppressed is null then registered_users end)::integer as registered_users,
        (case when suppressed is null then sessions end)::integer as sessions,
        (case when suppressed is null then registrations end)::integer as registrations,
        (case when suppressed is null then recorded_registrations end)::integer as recorded_registrations,
        (case when suppressed is null then attendances end)::integer as attendances,
        (case
            when suppressed is null and recorded_registrations > 0
                then round(attendances::numeric / recorded_registrations, 4)
        end)::numeric as attendance_rate,
        suppressed::text as suppressed
    from flagged

)

select * from final
