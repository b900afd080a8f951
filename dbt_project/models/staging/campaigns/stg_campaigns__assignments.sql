with

source as (

    select * from {{ source('campaigns', 'campaign_assignments') }}

),

renamed as (

    select
        -- ids
        campaign,
        user_key,

        -- dimensions
        arm,
        goal_metric,
        control_share,

        -- dates
        period_start,
        period_end,

        -- timestamps
        assigned_at

    from source

)

select * from renamed
