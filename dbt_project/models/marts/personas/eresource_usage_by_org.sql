-- E-resource use by platform, college, group and month beside the platform's COUNTER figures
-- and cost; small cells suppressed (macro suppress_small_cells: the colleges and the user types
-- each add up to the `all` row, the student groups to `student`, master and doctoral to
-- `postgraduate`).
with

cells as (

    select * from {{ ref('int_eresource_usage_cells') }}

),

protected as (

    {{ suppress_small_cells(
        'cells',
        columns=[
            'month', 'platform', 'breakdown', 'college', 'persona_group',
            'proxy_sessions', 'proxy_requests', 'session_users',
            'counter_total_item_requests', 'counter_unique_item_requests',
            'monthly_cost', 'currency', 'cost_per_use'
        ],
        users_columns=['session_users'],
        row_id="json_build_array(month, platform, breakdown, college, persona_group)::text",
        parent_id="case breakdown
            when 'college' then json_build_array(month, platform, 'all', null, 'all')::text
            when 'user_type' then json_build_array(month, platform, 'all', null, 'all')::text
            when 'user_group' then json_build_array(month, platform, 'user_type', null, 'student')::text
            when 'degree_level'
                then json_build_array(month, platform, 'user_group', null, 'postgraduate')::text
        end",
        partition="breakdown",
        measures={'proxy_sessions': ['session_users'], 'proxy_requests': ['session_users']}
    ) }}
),

final as (

    select
        protected.month::date as month,
        protected.platform::text as platform,
        protected.breakdown::text as breakdown,
        protected.college::text as college,
        protected.persona_group::text as persona_group,
        protected.proxy_sessions::bigint as proxy_sessions,
        protected.proxy_requests::bigint as proxy_requests,
        protected.session_users::bigint as session_users,
        protected.counter_total_item_requests::bigint as counter_total_item_requests,
        protected.counter_unique_item_requests::bigint as counter_unique_item_requests,
        protected.monthly_cost::numeric(14, 2) as monthly_cost,
        protected.currency::text as currency,
        protected.cost_per_use::numeric(14, 2) as cost_per_use,
        protected.suppressed::text as suppressed
    from protected

)

select * from final
