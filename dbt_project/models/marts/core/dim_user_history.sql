-- Every state each person has been in, with its validity period: a change of major, a
-- suspension, a graduation, a new year of study. Versions of int_user_versions that differ only
-- in what marts do not show (a new card, a new login) are merged, and periods are cut at the
-- start of each academic year, so that user_group and year_of_study hold for the whole row.
-- A person who left (a tombstone, or absence from the next roster snapshot) keeps their rows; the
-- last one ends when they left.
with

versions as (

    select * from {{ ref('int_user_versions') }}
    where not is_deleted

),

observations as (

    select * from {{ ref('int_campus_person_observations') }}

),

roster as (

    select {{ academic_year_of(local_date('max(observed_at)')) }} as academic_year
    from observations

),

-- one piece per academic year a version spans (open versions: up to the roster's year)
pieces as (

    select
        versions.*,
        years.academic_year,
        greatest(versions.valid_from, {{ academic_year_start_instant('years.academic_year') }}) as piece_from,
        case
            when
                versions.valid_to is null
                and years.academic_year >= roster.academic_year
                then null
            else least(
                coalesce(versions.valid_to, 'infinity'::timestamptz),
                {{ academic_year_start_instant('years.academic_year + 1') }}
            )
        end as piece_to
    from versions
    cross join roster
    cross join lateral generate_series(
        {{ academic_year_of(local_date('versions.valid_from')) }},
        greatest(
            {{ academic_year_of(local_date('versions.valid_from')) }},
            coalesce(
                {{ academic_year_of(local_date("versions.valid_to - interval '1 microsecond'")) }},
                roster.academic_year
            )
        )
    ) as years (academic_year)

),

attributes as (

    select
        user_key,
        piece_from,
        piece_to,
        user_type,
        {{ user_group(
            'user_type', 'degree_level', 'entry_year', 'expected_graduation_year', 'academic_year'
        ) }} as user_group,
        college_code,
        college_name,
        major_code,
        major_name,
        class_code,
        degree_level,
        entry_year,
        expected_graduation_year,
        {{ year_of_study('user_type', 'entry_year', 'academic_year') }} as year_of_study,
        enrollment_status,
        consent_profiling,
        consent_ranking,
        is_vip,
        valid_from as version_from
    from pieces
    where piece_to is null or piece_from < piece_to

),

hashed as (

    select
        attributes.*,
        md5(row(
            user_type, user_group, college_code, college_name, major_code, major_name, class_code,
            degree_level, entry_year, expected_graduation_year, year_of_study, enrollment_status,
            consent_profiling, consent_ranking, is_vip
        )::text) as attribute_hash
    from attributes

),

previous as (

    select
        hashed.*,
        lag(attribute_hash) over (
            partition by user_key
            order by piece_from
        ) as previous_hash,
        lag(piece_to) over (
            partition by user_key
            order by piece_from
        ) as previous_to
    from hashed

),

-- a new row when what marts show changes, or after a gap (the person had left)
marked as (

    select
        previous.*,
        case
            when previous_hash is null or attribute_hash <> previous_hash then 1
            when previous_to is null or piece_from <> previous_to then 1
            else 0
        end as starts_row
    from previous

),

grouped as (

    select
        marked.*,
        sum(starts_row) over (
            partition by user_key
            order by piece_from
            rows between unbounded preceding and current row
        ) as row_number_in_history
    from marked

),

final as (

    select distinct on (user_key, row_number_in_history)
        user_key::text as user_key,
        user_type::text as user_type,
        user_group::text as user_group,
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
        {{ local_date('version_from') }} as roster_date,
        coalesce(is_vip, false)::boolean as is_vip,
        min(piece_from) over (partition by user_key, row_number_in_history) as valid_from,
        (case
            when bool_or(piece_to is null) over (partition by user_key, row_number_in_history) then null
            else max(piece_to) over (partition by user_key, row_number_in_history)
        end)::timestamptz as valid_to,
        bool_or(piece_to is null) over (partition by user_key, row_number_in_history) as is_current
    from grouped
    order by user_key, row_number_in_history, piece_from

)

select
    user_key,
    user_type,
    user_group,
    college_code,
    college_name,
    major_code,
    major_name,
    class_code,
    degree_level,
    entry_year,
    expected_graduation_year,
    year_of_study,
    enrollment_status,
    consent_profiling,
    consent_ranking,
    roster_date,
    is_vip,
    valid_from,
    valid_to,
    is_current
from final
