-- Loans and borrowers by subject class, persona group and month, for acquisitions; small cells
-- suppressed (macro suppress_small_cells; within a month and class, each group is the sum of its
-- sub-groups as in group_persona).
with

cells as (

    select * from {{ ref('int_subject_usage_cells') }}

),

protected as (

    {{ suppress_small_cells(
        'cells',
        columns=[
            'month', 'class_level', 'subject_class', 'top_class', 'top_class_name',
            'persona_group', 'group_level', 'parent_group',
            'loans', 'borrower_users', 'items_held', 'loans_per_item_held'
        ],
        users_columns=['borrower_users'],
        row_id="json_build_array(month, class_level, subject_class, persona_group)::text",
        parent_id="case when parent_group is not null
            then json_build_array(month, class_level, subject_class, parent_group)::text end",
        partition="group_level",
        measures={'loans': ['borrower_users'], 'loans_per_item_held': ['borrower_users']}
    ) }}
),

final as (

    select
        protected.month::date as month,
        protected.class_level::text as class_level,
        protected.subject_class::text as subject_class,
        protected.top_class::text as top_class,
        protected.top_class_name::text as top_class_name,
        protected.persona_group::text as persona_group,
        protected.group_level::text as group_level,
        protected.parent_group::text as parent_group,
        protected.loans::bigint as loans,
        protected.borrower_users::bigint as borrower_users,
        protected.items_held::bigint as items_held,
        protected.loans_per_item_held::numeric(12, 4) as loans_per_item_held,
        protected.suppressed::text as suppressed
    from protected

)

select * from final
