-- The validity periods of each person's state (an SCD type 2 history built from observations):
-- consecutive observations of the same state (attributes, identifiers, roles, consent) are one
-- version, valid from its first observation until the next version starts. A tombstone or a
-- departure is a version of its own (is_deleted). For placing events, effective_from and
-- effective_to stretch the live versions over the gaps: a person's first version also covers what
-- happened before the data first saw them, and each version the time until the next live one.
with

observations as (

    select * from {{ ref('int_campus_person_observations') }}

),

hashed as (

    select
        observations.*,
        md5(row(
            is_deleted, card_key, login_key, koha_patron_key, folio_patron_key, user_type,
            college_code, college_name, major_code, major_name, class_code, degree_level,
            entry_year, expected_graduation_year, enrollment_status, consent_profiling,
            consent_ranking, roles
        )::text) as state_hash
    from observations

),

previous as (

    select
        hashed.*,
        lag(state_hash) over (
            partition by user_key
            order by observed_at
        ) as previous_hash
    from hashed

),

marked as (

    select
        previous.*,
        case when previous_hash is null or state_hash != previous_hash then 1 else 0 end as starts_version
    from previous

),

numbered as (

    select
        marked.*,
        sum(starts_version) over (
            partition by user_key
            order by observed_at
            rows between unbounded preceding and current row
        )::integer as version_number
    from marked

),

versions as (

    select distinct on (user_key, version_number) *
    from numbered
    order by user_key, version_number, observed_at

),

bounded as (

    select
        versions.*,
        observed_at as valid_from,
        lead(observed_at) over (
            partition by user_key
            order by version_number
        ) as valid_to
    from versions

),

live as (

    select
        user_key,
        version_number,
        lag(version_number) over (
            partition by user_key
            order by version_number
        ) as previous_live,
        lead(valid_from) over (
            partition by user_key
            order by version_number
        ) as next_live_from
    from bounded
    where not is_deleted

),

final as (

    select
        bounded.user_key,
        bounded.version_number,
        bounded.valid_from,
        bounded.valid_to,
        case when live.previous_live is not null then bounded.valid_from end as effective_from,
        live.next_live_from as effective_to,
        (bounded.valid_to is null and not bounded.is_deleted) as is_current,
        bounded.is_deleted,
        bounded.origin,
        bounded.card_key,
        bounded.login_key,
        bounded.koha_patron_key,
        bounded.folio_patron_key,
        bounded.user_type,
        bounded.college_code,
        bounded.college_name,
        bounded.major_code,
        bounded.major_name,
        bounded.class_code,
        bounded.degree_level,
        bounded.entry_year,
        bounded.expected_graduation_year,
        bounded.enrollment_status,
        bounded.consent_profiling,
        bounded.consent_ranking,
        bounded.roles,
        bounded.is_vip
    from bounded
    left join live
        on
            bounded.user_key = live.user_key
            and bounded.version_number = live.version_number

)

select * from final
