-- Requests of identified logins grouped into sessions: one login on one platform, a new
-- session after more than var('eresource_session_gap_minutes') (default 30) without a request.
-- Requests without a login cannot be attributed to a session and are left out here.
--
-- Incremental (macros/incremental.sql), keyed on request_id (delete+insert): a build takes the
-- classified requests of the batches it has not taken in, whatever their time (a late file),
-- and for each (login, platform) they touch recomputes every request from the start of the
-- session that holds (earliest new request - gap), or from the earliest new request when no
-- session reaches that far. Sessions before that point cannot change (their last request is
-- more than the gap before anything new), so the result is the full rebuild's; session ids
-- depend only on who, where and when the session began.
--
-- One sort (issue #14): a session's start is the latest request so far that starts one (times
-- only grow along the window), so the gap and the start share the window's order instead of
-- numbering sessions and sorting again by that number.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='request_id',
        on_schema_change='fail',
        unlogged=True,
        indexes=[
            {'columns': ['request_id'], 'unique': True},
            {'columns': ['batch_id']},
            {'columns': ['login_key', 'platform', 'requested_at']},
        ],
        pre_hook=[
            "{{ incremental_prepare(
                'ezproxy', 2, 'int_eresource_requests_classified', eresource_session_fingerprint()
            ) }}",
            "{{ build_memory() }}",
        ],
        post_hook=[
            "{{ incremental_record(
                'ezproxy', 2, 'int_eresource_requests_classified', eresource_session_fingerprint()
            ) }}",
            "{{ enforce_columns(not_null=[
                'session_id', 'request_id', 'login_key', 'platform', 'session_started_at',
                'requested_at', 'batch_id',
            ]) }}",
        ],
    )
}}

with

{% if is_incremental() %}

    new_requests as (

        select
            login_key,
            platform,
            min(requested_at) as first_new_at
        from {{ ref('int_eresource_requests_classified') }}
        where
            login_key is not null
            and batch_id in ({{ incremental_new_batches(2, 'int_eresource_requests_classified') }})
        group by login_key, platform

    ),

    -- where each touched (login, platform) is recomputed from
    recompute_from as (

        select
            new_requests.login_key,
            new_requests.platform,
            least(new_requests.first_new_at, min(existing.session_started_at)) as recompute_from
        from new_requests
        left join {{ this }} as existing
            on
                new_requests.login_key = existing.login_key
                and new_requests.platform = existing.platform
                and existing.requested_at
                >= new_requests.first_new_at
                - make_interval(mins => {{ var('eresource_session_gap_minutes', 30) }})
        group by new_requests.login_key, new_requests.platform, new_requests.first_new_at

    ),

    requests as (

        select
            classified.request_id,
            classified.login_key,
            classified.platform,
            classified.publisher,
            classified.request_class,
            classified.on_campus,
            classified.requested_at,
            classified.batch_id
        from {{ ref('int_eresource_requests_classified') }} as classified
        inner join recompute_from
            on
                classified.login_key = recompute_from.login_key
                and classified.platform = recompute_from.platform
                and classified.requested_at >= recompute_from.recompute_from

    ),

{% else %}

    requests as (

        select
            request_id,
            login_key,
            platform,
            publisher,
            request_class,
            on_campus,
            requested_at,
            batch_id
        from {{ ref('int_eresource_requests_classified') }}
        where login_key is not null

    ),

{% endif %}

gaps as (

    select
        *,
        lag(requested_at) over login_on_platform as previous_requested_at
    from requests
    window login_on_platform as (
        partition by login_key, platform
        order by requested_at, request_id
    )

),

flagged as (

    select
        *,
        previous_requested_at is null
        or requested_at - previous_requested_at
        > make_interval(mins => {{ var('eresource_session_gap_minutes', 30) }}) as starts_session
    from gaps

),

with_start as (

    select
        *,
        max(requested_at) filter (where starts_session) over (
            partition by login_key, platform
            order by requested_at, request_id
            rows between unbounded preceding and current row
        ) as session_started_at
    from flagged

),

final as (

    select
        -- the id depends on who, where and when the session began, not on a running number,
        -- so it survives reloads and the purge of older rows
        md5(login_key || '|' || platform || '|' || {{ epoch_text('session_started_at') }})
        as session_id,
        request_id,
        login_key,
        platform,
        publisher,
        request_class,
        on_campus,
        session_started_at,
        requested_at,
        batch_id
    from with_start

)

select * from final
