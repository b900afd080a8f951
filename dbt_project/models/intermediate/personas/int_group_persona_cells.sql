-- group_persona before small-cell suppression: one row per month and persona group with the
-- group's population, use, channels and lifecycle stages (opted-out users counted). Groups form
-- a tree so that margins add up: all = student + faculty + staff; student = freshman +
-- lower_undergraduate + upper_undergraduate + graduating + postgraduate (+ student_unspecified);
-- postgraduate = master + doctoral. vip (VIP readers) overlaps the others and stands alone.
with

user_months as (

    select * from {{ ref('int_persona_user_months') }}

),

lifecycle as (

    select * from {{ ref('int_user_lifecycle_monthly') }}

),

loans as (

    select * from {{ ref('int_persona_loans') }}
    where user_key is not null

),

expanded as (

    select
        user_months.*,
        lifecycle.stage,
        units.unit_group,
        units.unit_level,
        units.unit_parent
    from user_months
    inner join lifecycle
        on
            user_months.user_key = lifecycle.user_key
            and user_months.month = lifecycle.month
    cross join
        lateral (
            values
            ('all', 'all', null),
            (user_months.user_type, 'user_type', 'all'),
            (
                case
                    when user_months.user_type = 'student'
                        then coalesce(user_months.user_group, 'student_unspecified')
                end,
                'user_group',
                'student'
            ),
            (
                case when user_months.user_group = 'postgraduate' then user_months.persona_group end,
                'degree_level',
                'postgraduate'
            ),
            (case when user_months.is_vip then 'vip' end, 'vip', null)
        ) as units (unit_group, unit_level, unit_parent)
    where units.unit_group is not null

),

cells as (

    select
        month,
        unit_group as persona_group,
        unit_level as group_level,
        unit_parent as parent_group,
        {{ persona_cell_aggregates() }}
    from expanded
    group by month, unit_group, unit_level, unit_parent

),

subject_loans as (

    select
        expanded.month,
        expanded.unit_group,
        loans.subject_class,
        count(*) as loans
    from loans
    inner join expanded
        on
            loans.user_key = expanded.user_key
            and loans.loan_month = expanded.month
    where loans.subject_class is not null
    group by expanded.month, expanded.unit_group, loans.subject_class

),

top_subjects as (

    select
        month,
        unit_group,
        string_agg(
            subject_class, ','
            order by subject_rank
        ) as top_subject_classes
    from (
        select
            subject_loans.*,
            row_number() over (
                partition by month, unit_group
                order by loans desc, subject_class asc
            ) as subject_rank
        from subject_loans
    ) as ranked
    where subject_rank <= 3
    group by month, unit_group

),

final as (

    select
        cells.*,
        round(1000.0 * cells.active_users / nullif(cells.population_users, 0), 1) as active_users_per_1000,
        top_subjects.top_subject_classes
    from cells
    left join top_subjects
        on
            cells.month = top_subjects.month
            and cells.persona_group = top_subjects.unit_group

)

select * from final
