with

source as (

    select * from {{ source('ezproxy', 'ezproxy_requests') }}

),

renamed as (

    select
        -- ids
        batch_id::text || ':' || source_line::text as request_id,
        login_key,
        batch_id,
        source_file,
        source_line,

        -- dimensions
        client_network,
        on_campus as on_campus_at_ingest,
        method,
        site_host,
        url_path,
        http_status::integer as http_status,
        proxy_groups,

        -- measures
        response_bytes,

        -- timestamps
        requested_at

    from source

)

select * from renamed
