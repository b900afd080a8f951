{#- Small-cell protection for aggregate marts (group, organisational, ranking, subject and
    e-resource marts). See _personas__macros.yml for the contract; in short:

    * every count of persons is a column named *_users; a cell counting 1 to k-1 persons
      (var k_anonymity) is suppressed (primary suppression, reason small_cell);
    * the mart's equations are declared: margins (a parent row is the sum of its child rows in
      each *_users column, for every partition of the parent: a college and its majors, a group
      and its sub-groups) and row identities (population = the sum of the lifecycle stages ...);
    * complementary suppression: while an equation has exactly one suppressed cell (which would
      be that equation's total minus its visible cells), one more of its cells is suppressed:
      a part rather than the total, and the smallest count (ties by row and column), so that
      the choice depends on the equation's values only and two marts sharing a margin (the all
      rows of group_persona and org_persona) choose alike (reason complementary). This runs var
      suppression_passes times; a build whose equations still expose a cell fails with a
      message saying so;
    * measures computed from a suppressed count are suppressed with it, and the column
      `suppressed` lists the row's suppressed cells and why.

    relation      the CTE or relation holding the unsuppressed rows
    columns       every column to output, in order (users columns and measures included)
    row_id        SQL giving each row a unique text id (from columns that are never suppressed)
    parent_id     SQL giving the id of the row this row is a part of (null for none)
    partition     SQL naming which partition of the parent the row belongs to
    row_equations list of {total: column, parts: [columns]} that hold within every row
    measures      {column: [users columns it is computed from]}
-#}

{% macro suppression_equations_ctes(relation, row_id, parent_id, partition, users_columns, row_equations) %}
suppression_rows as (

    select
        ({{ row_id }})::text as suppression_row_id,
        ({{ parent_id }})::text as suppression_parent_id,
        ({{ partition }})::text as suppression_partition,
        suppression_source.*
    from {{ relation }} as suppression_source

),

suppression_cells as (

    select
        suppression_rows.suppression_row_id as row_id,
        unpivoted.column_name,
        unpivoted.cell_value,
        unpivoted.column_order
    from suppression_rows
    cross join lateral (
        values
        {%- for column in users_columns %}
            ('{{ column }}', suppression_rows.{{ column }}::bigint, {{ loop.index }}){{ "," if not loop.last }}
        {%- endfor %}
    ) as unpivoted (column_name, cell_value, column_order)

),

suppression_margins as (

    select
        concat_ws(
            chr(31), 'margin', child.suppression_parent_id, child.suppression_partition, cells.column_name
        ) as equation_id,
        child.suppression_parent_id as parent_row_id,
        cells.row_id,
        cells.column_name
    from suppression_rows as child
    inner join suppression_rows as parent
        on child.suppression_parent_id = parent.suppression_row_id
    inner join suppression_cells as cells
        on child.suppression_row_id = cells.row_id

),

suppression_equations as (

    select equation_id, row_id, column_name, false as is_total
    from suppression_margins

    union all

    select distinct equation_id, parent_row_id, column_name, true
    from suppression_margins

    {%- for equation in row_equations %}

    union all

    select
        concat_ws(chr(31), 'row{{ loop.index }}', row_id) as equation_id,
        row_id,
        column_name,
        column_name = '{{ equation.total }}' as is_total
    from suppression_cells
    where column_name in ('{{ equation.total }}', '{{ equation.parts | join("', '") }}')
    {%- endfor %}

)
{% endmacro %}


{% macro suppress_small_cells(
    relation, columns, users_columns, row_id,
    parent_id='null', partition="'all'", row_equations=[], measures={}, k=none, passes=none
) %}
{%- set k = k if k is not none else var('k_anonymity', 10) | int -%}
{%- set passes = passes if passes is not none else var('suppression_passes', 12) | int -%}
with

{{ suppression_equations_ctes(relation, row_id, parent_id, partition, users_columns, row_equations) }},

suppressed_0 as (

    select row_id, column_name, 'small_cell' as reason
    from suppression_cells
    where cell_value between 1 and {{ k - 1 }}

),

{%- for pass in range(1, passes + 2) %}

exposed_{{ pass }} as (

    -- equations with exactly one suppressed cell: its value is the total minus the visible cells
    select equations.equation_id
    from suppression_equations as equations
    left join suppressed_{{ pass - 1 }} as suppressed
        on equations.row_id = suppressed.row_id
        and equations.column_name = suppressed.column_name
    group by equations.equation_id
    having count(suppressed.row_id) = 1

),

{%- if pass <= passes %}

candidates_{{ pass }} as (

    select
        equations.row_id,
        equations.column_name,
        row_number() over (
            partition by equations.equation_id
            order by
                equations.is_total,
                cells.cell_value,
                equations.row_id,
                equations.column_name
        ) as choice
    from suppression_equations as equations
    inner join exposed_{{ pass }} as exposed
        on equations.equation_id = exposed.equation_id
    inner join suppression_cells as cells
        on equations.row_id = cells.row_id
        and equations.column_name = cells.column_name
    left join suppressed_{{ pass - 1 }} as suppressed
        on equations.row_id = suppressed.row_id
        and equations.column_name = suppressed.column_name
    where suppressed.row_id is null
        and cells.cell_value > 0

),

suppressed_{{ pass }} as (

    select row_id, column_name, reason
    from suppressed_{{ pass - 1 }}

    union all

    select distinct row_id, column_name, 'complementary'
    from candidates_{{ pass }}
    where choice = 1

),
{%- endif %}
{%- endfor %}

suppression_guard as (

    -- a cast that fails, with this message, when the passes did not close every equation
    select
        case
            when count(*) > 0
                then cast(
                    'complementary suppression left ' || count(*)
                    || ' equations exposed after {{ passes }} passes: raise var suppression_passes'
                    as integer
                )
        end as failure
    from exposed_{{ passes + 1 }}

),

suppression_columns as (

    select
        row_id,
        array_agg(column_name) as suppressed_columns
    from suppressed_{{ passes }}
    group by row_id

),

suppression_reasons as (

    select
        row_id,
        string_agg(reason || ': ' || reason_columns, '; ' order by reason desc) as suppressed
    from (
        select
            suppressed.row_id,
            suppressed.reason,
            string_agg(suppressed.column_name, ', ' order by cells.column_order) as reason_columns
        from suppressed_{{ passes }} as suppressed
        inner join suppression_cells as cells
            on suppressed.row_id = cells.row_id
            and suppressed.column_name = cells.column_name
        group by suppressed.row_id, suppressed.reason
    ) as by_reason
    group by row_id

)

select
    {%- for column in columns %}
    {%- if column in users_columns %}
    case
        when '{{ column }}' = any(suppression_columns.suppressed_columns) then null
        else suppression_rows.{{ column }}
    end as {{ column }},
    {%- elif column in measures %}
    case
        when suppression_columns.suppressed_columns
            && array['{{ measures[column] | join("', '") }}']::text[] then null
        else suppression_rows.{{ column }}
    end as {{ column }},
    {%- else %}
    suppression_rows.{{ column }},
    {%- endif %}
    {%- endfor %}
    coalesce(suppression_guard.failure::text, suppression_reasons.suppressed) as suppressed
from suppression_rows
cross join suppression_guard
left join suppression_columns
    on suppression_rows.suppression_row_id = suppression_columns.row_id
left join suppression_reasons
    on suppression_rows.suppression_row_id = suppression_reasons.row_id
{% endmacro %}
