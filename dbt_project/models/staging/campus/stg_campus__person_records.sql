with

source as (

    select * from {{ source('campus', 'campus_person_records') }}

),

renamed as (

    select
        -- ids (pseudonyms)
        person_key as user_key,
        card_key,
        login_key,
        koha_patron_key,
        folio_patron_key,

        -- lineage
        hub,
        batch_id,
        source_file,
        source_line,

        -- dimensions
        deleted as is_deleted,
        lower(trim(person_type)) as user_type,
        college_code,
        college_name,
        major_code,
        major_name,
        class_code,
        lower(trim(degree_level)) as degree_level,
        entry_year,
        expected_graduation_year,
        lower(trim(enrollment_status)) as enrollment_status,

        -- consent
        consent_profiling,
        consent_ranking,

        -- roles
        -- as text (sorted at ingest, comma-separated), so that unit tests can mock it
        array_to_string(roles, ',') as roles,

        -- timestamps
        updated_at

    from source

)

select * from renamed
