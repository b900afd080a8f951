with

source as (

    select * from {{ source('campus', 'folio_users') }}

),

renamed as (

    select
        -- ids (pseudonyms)
        patron_key,
        card_key,
        login_key,
        person_key as user_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        lower(user_kind) as folio_user_kind,
        patron_group,
        active as is_active,

        -- dates
        enrollment_date,
        expiration_date,
        updated_at

    from source

)

select * from renamed
