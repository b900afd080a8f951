-- Individual personas, for users who consented to profiling only. Users with no use are kept:
-- they are the library's potential users. Measures cover the persona window (int_persona_period:
-- var persona_window_days up to the newest use in the data); scores, segments and tags are
-- computed here from them, with the thresholds as dbt vars (see the model's description).
with

users as (

    select * from {{ ref('dim_user') }}
    where consent_profiling

),

attributes as (

    -- the latest period of each user (one today; see the adapter)
    select distinct on (user_key) *
    from {{ ref('int_persona_user_attributes') }}
    order by user_key asc, valid_from desc nulls last

),

measures as (

    select * from {{ ref('int_user_window_measures') }}

),

period as (

    select * from {{ ref('int_persona_period') }}

),

current_stage as (

    select
        lifecycle.user_key,
        lifecycle.stage
    from {{ ref('int_user_lifecycle_monthly') }} as lifecycle
    inner join period
        on lifecycle.month = period.last_month

),

scored as (

    select
        measures.*,
        round(100 * (
            0.30 * least(measures.loans::numeric / {{ var('engagement_target_loans', 20) }}, 1)
            + 0.20 * least(measures.visits::numeric / {{ var('engagement_target_visits', 60) }}, 1)
            + 0.20 * least(
                measures.eresource_sessions::numeric / {{ var('engagement_target_eresource_sessions', 40) }},
                1
            )
            + 0.10 * least(
                measures.distinct_subject_classes::numeric
                / {{ var('engagement_target_subject_classes', 5) }},
                1
            )
            + 0.10 * least(
                measures.participation_events::numeric / {{ var('engagement_target_participation', 5) }}, 1
            )
            + 0.10 * coalesce(
                greatest(0, 1 - measures.days_since_last_use::numeric / {{ var('persona_window_days') }}), 0
            )
        ), 1) as engagement_score,
        case
            when measures.use_events = 0 then 0
            else greatest(
                1,
                measures.distinct_subject_classes + measures.distinct_platforms
                + measures.participation_kinds + (measures.visits > 0)::integer
            )
        end as breadth
    from measures

),

rfb as (

    select
        scored.*,
        case
            when use_events = 0 then 0
            when days_since_last_use <= {{ var('rfb_recent_days', 30) }} then 3
            when days_since_last_use <= {{ var('rfb_lapsing_days', 90) }} then 2
            else 1
        end as recency_score,
        case
            when active_days >= {{ var('rfb_frequent_days', 24) }} then 3
            when active_days >= {{ var('rfb_regular_days', 6) }} then 2
            when active_days >= 1 then 1
            else 0
        end as frequency_score,
        case
            when breadth >= {{ var('rfb_broad_breadth', 6) }} then 3
            when breadth >= {{ var('rfb_moderate_breadth', 3) }} then 2
            when breadth >= 1 then 1
            else 0
        end as breadth_score
    from scored

),

tagged as (

    select
        rfb.*,
        case
            when recency_score = 0 then 'non_user'
            when recency_score = 3 and frequency_score = 3 and breadth_score >= 2 then 'champion'
            when recency_score >= 2 and frequency_score >= 2 and breadth_score >= 2 then 'engaged'
            when recency_score >= 2 and frequency_score >= 2 then 'specialist'
            when recency_score >= 2 then 'occasional'
            when frequency_score >= 2 then 'drifting'
            else 'dormant'
        end as rfb_segment,
        case
            when physical_events > 0 and digital_events > 0 then 'both'
            when physical_events > 0 then 'physical'
            when digital_events > 0 then 'digital'
            else 'none'
        end as channel_mix,
        nullif(array_to_string(array[
            case
                when distinct_subject_classes >= {{ var('tag_broad_reader_min_classes', 6) }}
                    then 'broad_reader'
            end,
            case
                when
                    eresource_sessions >= {{ var('tag_min_events', 5) }}
                    and eresource_sessions >= {{ var('tag_digital_first_ratio', 3) }} * (loans + visits)
                    then 'digital_first'
            end,
            case
                when
                    use_events >= {{ var('tag_min_events', 5) }}
                    and night_events >= {{ var('tag_night_owl_min_share', 0.3) }} * use_events
                    then 'night_owl'
            end,
            case
                when loans >= {{ var('tag_reading_star_min_loans', 20) }} then 'reading_star'
            end,
            case
                when
                    eresource_sessions >= {{ var('tag_research_min_sessions', 20) }}
                    and distinct_platforms >= {{ var('tag_research_min_platforms', 3) }}
                    then 'research_intensive'
            end,
            case
                when volunteer_hours >= {{ var('tag_volunteer_min_hours', 4) }} then 'volunteer'
            end,
            case
                when weekend_active_days >= {{ var('tag_weekend_min_days', 6) }} then 'weekend_regular'
            end
        ], ','), '') as tags
    from rfb

),

final as (

    select
        users.user_key::text as user_key,
        users.user_type::text as user_type,
        users.user_group::text as user_group,
        coalesce(users.college_name, users.college_code)::text as college,
        coalesce(users.major_name, users.major_code)::text as major,
        users.class_code::text as class_code,
        users.year_of_study::integer as year_of_study,
        users.degree_level::text as degree_level,
        coalesce(attributes.is_vip, false)::boolean as is_vip,
        tagged.window_end_date::date as window_end_date,
        -- physical use
        coalesce(tagged.visits, 0)::integer as visits,
        round(coalesce(tagged.dwell_minutes, 0) / 60.0, 1)::numeric(10, 1) as dwell_hours,
        tagged.preferred_hour_band::text as preferred_hour_band,
        tagged.preferred_weekday::text as preferred_weekday,
        -- loans
        coalesce(tagged.loans, 0)::integer as loans_in_window,
        coalesce(tagged.renewals, 0)::integer as renewals_in_window,
        round(tagged.overdue_loans::numeric / nullif(tagged.loans_with_due_date, 0), 3)::numeric(5, 3)
        as overdue_rate,
        coalesce(tagged.distinct_subject_classes, 0)::integer as distinct_subject_classes,
        tagged.top_subject_classes::text as top_subject_classes,
        {{ local_date('tagged.last_activity_at') }} as last_activity_date,
        -- digital use
        coalesce(tagged.eresource_sessions, 0)::integer as eresource_sessions,
        coalesce(tagged.distinct_platforms, 0)::integer as distinct_platforms,
        tagged.top_platform::text as top_platform,
        round(tagged.off_campus_sessions::numeric / nullif(tagged.located_sessions, 0), 3)::numeric(5, 3)
        as off_campus_share,
        -- participation
        coalesce(tagged.bookings, 0)::integer as bookings,
        round(tagged.no_shows::numeric / nullif(tagged.bookings, 0), 3)::numeric(5, 3) as no_show_rate,
        coalesce(tagged.trainings_attended, 0)::integer as trainings_attended,
        coalesce(tagged.consultations, 0)::integer as consultations,
        coalesce(tagged.volunteer_hours, 0)::numeric(8, 1) as volunteer_hours,
        coalesce(tagged.feedback_given, 0)::integer as feedback_given,
        -- engagement
        coalesce(tagged.active_days, 0)::integer as active_days,
        tagged.last_use_date::date as last_use_date,
        tagged.days_since_last_use::integer as days_since_last_use,
        coalesce(tagged.engagement_score, 0)::numeric(5, 1) as engagement_score,
        coalesce(tagged.recency_score, 0)::integer as recency_score,
        coalesce(tagged.frequency_score, 0)::integer as frequency_score,
        coalesce(tagged.breadth_score, 0)::integer as breadth_score,
        coalesce(tagged.rfb_segment, 'non_user')::text as rfb_segment,
        current_stage.stage::text as lifecycle_stage,
        coalesce(tagged.channel_mix, 'none')::text as channel_mix,
        tagged.tags::text as tags
    from users
    left join attributes
        on users.user_key = attributes.user_key
    left join tagged
        on users.user_key = tagged.user_key
    left join current_stage
        on users.user_key = current_stage.user_key

)

select * from final
