with

source as (

    select * from {{ source('services', 'feedback_responses') }}

),

renamed as (

    select
        -- ids
        response_id,
        person_key,

        -- lineage
        batch_id,
        source_file,
        source_line,

        -- dimensions
        survey,
        coalesce(service_area, 'unspecified') as service_area,
        question,
        lower(question_type) as question_type,
        lower(suggestion_status) as suggestion_status,

        -- measures
        score,

        -- derived from the comment (the text itself is in restricted only)
        comment_length,
        comment_language,
        comment_topics,

        -- timestamps
        submitted_at

    from source

)

select * from renamed
