-- The current population: each person's current version (their latest state, unless they left:
-- a tombstone of the campus API, or absence from the newest snapshot of a roster series). The
-- roster is dated by the newest observation of any person, so that everyone's year of study is
-- counted in the same academic year.
with

versions as (

    select * from {{ ref('int_user_versions') }}

),

observations as (

    select * from {{ ref('int_campus_person_observations') }}

),

roster_date as (

    select {{ local_date('max(observed_at)') }} as snapshot_date
    from observations

),

final as (

    select
        versions.user_key,
        versions.card_key,
        versions.login_key,
        versions.koha_patron_key,
        versions.folio_patron_key,
        versions.user_type,
        versions.college_code,
        versions.college_name,
        versions.major_code,
        versions.major_name,
        versions.class_code,
        versions.degree_level,
        versions.entry_year,
        versions.expected_graduation_year,
        versions.enrollment_status,
        versions.consent_profiling,
        versions.consent_ranking,
        roster_date.snapshot_date,
        versions.is_vip,
        versions.valid_from as current_since
    from versions
    cross join roster_date
    where versions.is_current

)

select * from final
