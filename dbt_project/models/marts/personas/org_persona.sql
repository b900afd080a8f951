-- Organisational personas (college, major, class) per month, with small cells suppressed
-- (macro suppress_small_cells: all = its colleges, a college = its majors, a major = its classes,
-- and the row identities of macros/personas/persona_cells.sql).
with

cells as (

    select * from {{ ref('int_org_persona_cells') }}

),

protected as (

    {{ suppress_small_cells(
        'cells',
        columns=['month', 'org_level', 'college', 'major', 'class_code'] + persona_output_columns(),
        users_columns=persona_users_columns(),
        row_id="json_build_array(month, org_level, college, major, class_code)::text",
        parent_id="case org_level
            when 'college' then json_build_array(month, 'all', null, null, null)::text
            when 'major' then json_build_array(month, 'college', college, null, null)::text
            when 'class' then json_build_array(month, 'major', college, major, null)::text
        end",
        partition="org_level",
        row_equations=persona_row_equations(),
        measures=persona_measure_columns()
    ) }}
),

final as (

    select
        protected.month::date as month,
        protected.org_level::text as org_level,
        protected.college::text as college,
        protected.major::text as major,
        protected.class_code::text as class_code,
        {{ persona_output_select('protected') }}
        protected.suppressed::text as suppressed
    from protected

)

select * from final
