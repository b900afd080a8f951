-- org_persona before small-cell suppression: one row per month and organisational unit, with the
-- attributes each user had that month. Units nest so that margins add up: all = the colleges
-- (a null college: users without one); a college = its majors (a null major: its members without
-- a major, e.g. faculty and staff); a major = its classes (a null class: its students without
-- one, e.g. postgraduates).
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
        units.unit_level,
        units.unit_college,
        units.unit_major,
        units.unit_class
    from user_months
    inner join lifecycle
        on
            user_months.user_key = lifecycle.user_key
            and user_months.month = lifecycle.month
    cross join
        lateral (
            values
            ('all', null, null, null),
            ('college', user_months.college, null, null),
            (
                case when user_months.college is not null then 'major' end,
                user_months.college,
                user_months.major,
                null
            ),
            (
                case when user_months.college is not null and user_months.major is not null then 'class' end,
                user_months.college,
                user_months.major,
                user_months.class_code
            )
        ) as units (unit_level, unit_college, unit_major, unit_class)
    where units.unit_level is not null

),

cells as (

    select
        month,
        unit_level as org_level,
        unit_college as college,
        unit_major as major,
        unit_class as class_code,
        {{ persona_cell_aggregates() }}
    from expanded
    group by month, unit_level, unit_college, unit_major, unit_class

),

subject_loans as (

    select
        expanded.month,
        expanded.unit_level,
        expanded.unit_college,
        expanded.unit_major,
        expanded.unit_class,
        loans.subject_class,
        count(*) as loans
    from loans
    inner join expanded
        on
            loans.user_key = expanded.user_key
            and loans.loan_month = expanded.month
    where loans.subject_class is not null
    group by
        expanded.month,
        expanded.unit_level,
        expanded.unit_college,
        expanded.unit_major,
        expanded.unit_class,
        loans.subject_class

),

top_subjects as (

    select
        month,
        unit_level,
        unit_college,
        unit_major,
        unit_class,
        string_agg(
            subject_class, ','
            order by subject_rank
        ) as top_subject_classes
    from (
        select
            subject_loans.*,
            row_number() over (
                partition by month, unit_level, unit_college, unit_major, unit_class
                order by loans desc, subject_class asc
            ) as subject_rank
        from subject_loans
    ) as ranked
    where subject_rank <= 3
    group by month, unit_level, unit_college, unit_major, unit_class

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
            and cells.org_level = top_subjects.unit_level
            and cells.college is not distinct from top_subjects.unit_college
            and cells.major is not distinct from top_subjects.unit_major
            and cells.class_code is not distinct from top_subjects.unit_class

)

select * from final
