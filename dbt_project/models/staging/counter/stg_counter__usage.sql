with

source as (

    select * from {{ source('counter', 'counter_usage') }}

),

renamed as (

    select
        -- lineage
        batch_id,
        source_file,
        source_line,

        -- report
        report_id,
        left(report_id, 2) as report_family,
        release as counter_release,
        customer_id,
        institution_name,

        -- item
        platform,
        publisher,
        item_kind,
        item_name,
        parent_title,
        doi,
        isbn,
        print_issn,
        online_issn,
        proprietary_id,
        uri,
        coalesce(doi, isbn, online_issn, print_issn, proprietary_id, uri) as item_id,

        -- attributes
        data_type,
        section_type,
        yop,
        access_type,
        access_method,

        -- measures
        metric_type,
        month as usage_month,
        count as usage_count,

        -- timestamps
        period_begin as reporting_period_begin,
        period_end as reporting_period_end,
        created as report_created_at,
        created_by as report_created_by

    from source

)

select * from renamed
