with

source as (

    select * from {{ source('services', 'load_log') }}

),

renamed as (

    select
        -- ids
        batch_id,

        -- dimensions
        target_table,
        source_file,

        -- timestamps
        finished_at as loaded_at

    from source
    where
        status = 'loaded'
        and target_table in (
            'space_bookings', 'training_registrations', 'consultations', 'feedback_responses',
            'volunteer_hours'
        )

)

select * from renamed
