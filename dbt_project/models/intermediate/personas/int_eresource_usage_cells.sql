-- eresource_usage_by_org before small-cell suppression: EZproxy sessions and distinct users per
-- month, platform and breakdown (the attributes users had that month), beside the platform's
-- COUNTER figures for the month and, where the seed eresource_subscription_costs prices the
-- platform, its cost. Breakdowns: all (every session, unresolved logins included); college
-- (all = the colleges, a null college: users without one); user_type -> user_group (students)
-- -> degree_level (postgraduates), the group tree of group_persona; vip.
with

sessions as (

    select * from {{ ref('fct_eresource_sessions') }}

),

user_months as (

    select * from {{ ref('int_persona_user_months') }}

),

counter_usage as (

    select * from {{ ref('fct_counter_usage_monthly') }}
    where
        report_id = 'PR'
        and platform is not null

),

platform_names as (

    select
        counter_platform,
        min(platform) as platform
    from {{ ref('eresource_platforms') }}
    where counter_platform is not null
    group by counter_platform

),

costs as (

    select * from {{ ref('eresource_subscription_costs') }}

),

session_units as (

    select
        sessions.session_id,
        sessions.user_key,
        sessions.platform,
        sessions.requests,
        date_trunc('month', sessions.session_date)::date as month,
        units.breakdown,
        units.unit_college,
        units.unit_group
    from sessions
    left join user_months
        on
            sessions.user_key = user_months.user_key
            and date_trunc('month', sessions.session_date)::date = user_months.month
    cross join
        lateral (
            values
            ('all', null, 'all'),
            (case when user_months.user_key is not null then 'college' end, user_months.college, 'all'),
            ('user_type', null, user_months.user_type),
            (
                'user_group',
                null,
                case
                    when user_months.user_type = 'student'
                        then coalesce(user_months.user_group, 'student_unspecified')
                end
            ),
            (
                'degree_level',
                null,
                case when user_months.user_group = 'postgraduate' then user_months.persona_group end
            ),
            ('vip', null, case when user_months.is_vip then 'vip' end)
        ) as units (breakdown, unit_college, unit_group)
    where
        units.breakdown is not null
        and units.unit_group is not null

),

-- each user's sessions in a cell first, then the cell: two hashed aggregations instead of the
-- sort of every session row that count(distinct user_key) needs
user_cells as (

    select
        month,
        platform,
        breakdown,
        unit_college,
        unit_group,
        user_key,
        count(*) as sessions,
        sum(requests) as requests
    from session_units
    group by month, platform, breakdown, unit_college, unit_group, user_key

),

proxy_cells as (

    select
        month,
        platform,
        breakdown,
        unit_college as college,
        unit_group as persona_group,
        sum(sessions)::bigint as proxy_sessions,
        coalesce(sum(requests), 0)::bigint as proxy_requests,
        count(user_key) as session_users
    from user_cells
    group by month, platform, breakdown, unit_college, unit_group

),

counter_monthly as (

    select
        coalesce(platform_names.platform, counter_usage.platform) as platform,
        counter_usage.month,
        sum(counter_usage.count) filter (
            where counter_usage.metric_type = 'Total_Item_Requests'
        ) as counter_total_item_requests,
        sum(counter_usage.count) filter (
            where counter_usage.metric_type = 'Unique_Item_Requests'
        ) as counter_unique_item_requests
    from counter_usage
    left join platform_names
        on counter_usage.platform = platform_names.counter_platform
    group by coalesce(platform_names.platform, counter_usage.platform), counter_usage.month

),

-- a subscription's cost spread over its days: a month's cost is its days' share
monthly_costs as (

    select
        costs.platform,
        months.month::date as month,
        sum(
            costs.cost
            * (
                least(costs.ends_on, (months.month + interval '1 month' - interval '1 day')::date)
                - greatest(costs.starts_on, months.month::date) + 1
            )
            / (costs.ends_on - costs.starts_on + 1)
        ) as monthly_cost,
        min(costs.currency) as currency
    from costs
    cross join
        lateral generate_series(
            date_trunc('month', costs.starts_on), costs.ends_on, interval '1 month'
        ) as months (month)
    group by costs.platform, months.month

),

-- every platform-month with proxy use or COUNTER figures has an `all` row
cells as (

    select
        coalesce(proxy_cells.month, counter_monthly.month) as month,
        coalesce(proxy_cells.platform, counter_monthly.platform) as platform,
        coalesce(proxy_cells.breakdown, 'all') as breakdown,
        proxy_cells.college,
        coalesce(proxy_cells.persona_group, 'all') as persona_group,
        coalesce(proxy_cells.proxy_sessions, 0) as proxy_sessions,
        coalesce(proxy_cells.proxy_requests, 0) as proxy_requests,
        coalesce(proxy_cells.session_users, 0) as session_users
    from proxy_cells
    full outer join counter_monthly
        on
            proxy_cells.platform = counter_monthly.platform
            and proxy_cells.month = counter_monthly.month
            and proxy_cells.breakdown = 'all'

),

final as (

    select
        cells.*,
        counter_monthly.counter_total_item_requests,
        counter_monthly.counter_unique_item_requests,
        round(monthly_costs.monthly_cost, 2) as monthly_cost,
        monthly_costs.currency,
        round(monthly_costs.monthly_cost / nullif(counter_monthly.counter_unique_item_requests, 0), 2)
        as cost_per_use
    from cells
    left join counter_monthly
        on
            cells.platform = counter_monthly.platform
            and cells.month = counter_monthly.month
    left join monthly_costs
        on
            cells.platform = monthly_costs.platform
            and cells.month = monthly_costs.month

)

select * from final
