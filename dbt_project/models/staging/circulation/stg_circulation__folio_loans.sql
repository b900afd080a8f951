with

source as (

    select * from {{ source('circulation', 'folio_loans') }}

),

renamed as (

    select
        -- ids
        nullif(trim(loan_id), '') as loan_id,
        patron_key,
        proxy_patron_key,
        item_id,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        lower(trim(action)) as action,
        lower(trim(status_name)) as status_name,
        lower(trim(item_status)) as item_status,
        checkout_service_point_id,
        item_location_id,

        -- measures
        coalesce(renewal_count, 0) as renewals,

        -- timestamps
        loan_at as loaned_at,
        due_at,
        returned_at

    from source

)

select * from renamed
