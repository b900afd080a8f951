-- subject_usage before small-cell suppression: loans and distinct borrowers per month, subject
-- class (CLC top level: one letter; second level: two characters) and persona group, with the
-- items the library holds in the class. Groups form the same tree as group_persona; loans of
-- anonymised or unresolved borrowers count in the `all` group only (they have no group), and
-- loans of items without a CLC class are left out.
with

loans as (

    select * from {{ ref('int_persona_loans') }}
    where subject_class is not null

),

user_months as (

    select * from {{ ref('int_persona_user_months') }}

),

items as (

    select * from {{ ref('int_items_latest') }}

),

classes as (

    select * from {{ ref('clc_classes') }}

),

loan_groups as (

    select
        loans.loan_key,
        loans.user_key,
        loans.loan_month as month,
        loans.subject_class,
        loans.subject_subclass,
        units.unit_group,
        units.unit_level,
        units.unit_parent
    from loans
    left join user_months
        on
            loans.user_key = user_months.user_key
            and loans.loan_month = user_months.month
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

loan_classes as (

    select
        loan_groups.*,
        levels.class_level,
        levels.class_code
    from loan_groups
    cross join
        lateral (
            values
            ('top', loan_groups.subject_class),
            ('second', loan_groups.subject_subclass)
        ) as levels (class_level, class_code)
    where levels.class_code is not null

),

-- each borrower's loans in a cell first, then the cell: two hashed aggregations instead of the
-- sort of every row that count(distinct user_key) needs
borrower_cells as (

    select
        month,
        class_level,
        class_code,
        unit_group,
        unit_level,
        unit_parent,
        user_key,
        count(*) as loans
    from loan_classes
    group by month, class_level, class_code, unit_group, unit_level, unit_parent, user_key

),

cells as (

    select
        month,
        class_level,
        class_code as subject_class,
        left(class_code, 1) as top_class,
        unit_group as persona_group,
        unit_level as group_level,
        unit_parent as parent_group,
        sum(loans)::bigint as loans,
        -- only known users: an anonymised loan is nobody's
        count(user_key) as borrower_users
    from borrower_cells
    group by month, class_level, class_code, unit_group, unit_level, unit_parent

),

holdings as (

    select
        levels.class_level,
        levels.class_code,
        count(*) as items_held
    from items
    inner join classes
        on items.call_number_letter = classes.letter
    cross join
        lateral (
            values
            ('top', items.call_number_letter),
            (
                'second',
                case
                    when upper(substr(ltrim(items.call_number), 2, 1)) ~ '^[A-Z0-9]$'
                        then items.call_number_letter || upper(substr(ltrim(items.call_number), 2, 1))
                end
            )
        ) as levels (class_level, class_code)
    where levels.class_code is not null
    group by levels.class_level, levels.class_code

),

final as (

    select
        cells.*,
        classes.name_en as top_class_name,
        coalesce(holdings.items_held, 0) as items_held,
        round(cells.loans::numeric / nullif(holdings.items_held, 0), 4) as loans_per_item_held
    from cells
    left join classes
        on cells.top_class = classes.letter
    left join holdings
        on
            cells.class_level = holdings.class_level
            and cells.subject_class = holdings.class_code

)

select * from final
