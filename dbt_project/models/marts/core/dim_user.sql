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
        {{ academic_year_of('snapshot_date') }} as academic_year_start
    from people

),

final as (

    select
        user_key::text as user_key,
        user_type::text as user_type,
        {{ user_group('user_type', 'degree_level', 'entry_year', 'expected_graduation_year',
                      'academic_year_start') }} as user_group,
        college_code::text as college_code,
        college_name::text as college_name,
        major_code::text as major_code,
        major_name::text as major_name,
        class_code::text as class_code,
        degree_level::text as degree_level,
        entry_year::integer as entry_year,
        expected_graduation_year::integer as expected_graduation_year,
        {{ year_of_study('user_type', 'entry_year', 'academic_year_start') }} as year_of_study,
        enrollment_status::text as enrollment_status,
        consent_profiling::boolean as consent_profiling,
        consent_ranking::boolean as consent_ranking,
        snapshot_date::date as roster_date,
        coalesce(is_vip, false)::boolean as is_vip
    from academic_year

)

select * from final
