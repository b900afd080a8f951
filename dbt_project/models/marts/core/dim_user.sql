-- One row per person of the current roster. Only the pseudonymous user_key identifies a user:
-- cards, logins and ILS ids stay in intermediate.int_identity_links.
with

people as (

    select * from {{ ref('int_people_from_latest_roster') }}

),

academic_year as (

    select
        people.*,
        -- the academic year a snapshot falls in, named by the calendar year it starts in
        case
            when extract(month from snapshot_date) >= {{ var('academic_year_start_month', 9) }}
                then extract(year from snapshot_date)::integer
            else extract(year from snapshot_date)::integer - 1
        end as academic_year_start
    from people

),

study_year as (

    select
        academic_year.*,
        case
            when user_type = 'student'
                then academic_year_start - entry_year + 1
        end as year_of_study
    from academic_year

),

final as (

    select
        user_key::text as user_key,
        user_type::text as user_type,
        (case
            when user_type = 'faculty' then 'faculty'
            when user_type = 'staff' then 'staff'
            when user_type <> 'student' then null
            -- final-year students of any degree, including those past their expected year
            when expected_graduation_year <= academic_year_start + 1 then 'graduating'
            when degree_level in ('master', 'doctoral') then 'postgraduate'
            when year_of_study <= 1 then 'freshman'
            when year_of_study = 2 then 'lower_undergraduate'
            when year_of_study >= 3 then 'upper_undergraduate'
        end)::text as user_group,
        college_code::text as college_code,
        college_name::text as college_name,
        major_code::text as major_code,
        major_name::text as major_name,
        class_code::text as class_code,
        degree_level::text as degree_level,
        entry_year::integer as entry_year,
        expected_graduation_year::integer as expected_graduation_year,
        year_of_study::integer as year_of_study,
        enrollment_status::text as enrollment_status,
        consent_profiling::boolean as consent_profiling,
        consent_ranking::boolean as consent_ranking,
        snapshot_date::date as roster_date
    from study_year

)

select * from final
