-- Adapter: who each user is, and over which period (valid_from .. valid_to, inclusive; null
-- means open). Persona marts read the period valid in each month, so that a month of last year
-- counts a user in the college and group they belonged to then.
-- Wired to dim_user_history (validity periods) and dim_user.is_vip when the campus history
-- source lands. Until then each person of the current roster (dim_user) has one period:
--   valid_from  students: the start of their entry academic year (var academic_year_start_month);
--               staff and faculty: null (on the roster since before the data begins)
--   valid_to    graduated students: the last day of var graduation_month (June) of their
--               expected graduation year; everyone else: null (still on the roster)
--   left_roster graduated or withdrawn: no month after their last one (for a withdrawn student
--               the roster gives no date: their last month is that of their last use)
--   is_vip      dim_user.is_vip: the campus roles principal_investigator or academic_leader
with

users as (

    select * from {{ ref('dim_user') }}

),

final as (

    select
        user_key,
        (case
            when user_type = 'student' and entry_year is not null
                then make_date(entry_year, {{ var('academic_year_start_month', 9) }}, 1)
        end)::date as valid_from,
        (case
            when enrollment_status = 'graduated' and expected_graduation_year is not null
                then (
                    make_date(expected_graduation_year, {{ var('graduation_month', 6) }}, 1)
                    + interval '1 month' - interval '1 day'
                )::date
        end)::date as valid_to,
        coalesce(enrollment_status in ('graduated', 'withdrawn'), false) as left_roster,
        user_type,
        coalesce(college_name, college_code) as college,
        coalesce(major_name, major_code) as major,
        class_code,
        degree_level,
        entry_year,
        expected_graduation_year,
        enrollment_status,
        coalesce(is_vip, false) as is_vip
    from users

)

select * from final
