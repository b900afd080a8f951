-- Group personas per month, with small cells suppressed (macro suppress_small_cells; the group
-- tree and the row identities it protects are declared below and in macros/personas).
with

cells as (

    select * from {{ ref('int_group_persona_cells') }}

),

protected as (

    {{ suppress_small_cells(
        'cells',
        columns=['month', 'persona_group', 'group_level', 'parent_group'] + persona_output_columns(),
        users_columns=persona_users_columns(),
        row_id="json_build_array(month, persona_group)::text",
        parent_id="case when parent_group is not null then json_build_array(month, parent_group)::text end",
        partition="group_level",
        row_equations=persona_row_equations(),
        measures=persona_measure_columns()
    ) }}
),

final as (

    select
        protected.month::date as month,
        protected.persona_group::text as persona_group,
        protected.group_level::text as group_level,
        protected.parent_group::text as parent_group,
        {{ persona_output_select('protected') }}
        protected.suppressed::text as suppressed
    from protected

)

select * from final
