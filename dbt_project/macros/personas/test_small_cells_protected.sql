{#- Fails on every *_users cell of the model that counts 1 to k-1 persons (var k_anonymity), and
    on every declared equation (margin or row identity, as given to suppress_small_cells) with
    exactly one suppressed (null) cell, which the total minus the visible cells would recover. -#}
{% test small_cells_protected(model, users_columns, row_id, parent_id='null', partition="'all'", row_equations=[]) %}
{%- set k = var('k_anonymity', 10) | int -%}
with

{{ suppression_equations_ctes(model, row_id, parent_id, partition, users_columns, row_equations) }},

visible_small_cells as (

    select
        row_id as failing_row,
        column_name as failing_column,
        'counts 1 to k-1 users' as problem
    from suppression_cells
    where cell_value between 1 and {{ k - 1 }}

),

exposed_equations as (

    select
        equations.equation_id as failing_row,
        min(case when cells.cell_value is null then equations.column_name end) as failing_column,
        'the only suppressed cell of its equation: the total minus the visible cells recovers it'
            as problem
    from suppression_equations as equations
    inner join suppression_cells as cells
        on equations.row_id = cells.row_id
        and equations.column_name = cells.column_name
    group by equations.equation_id
    having count(*) filter (where cells.cell_value is null) = 1

)

select * from visible_small_cells
union all
select * from exposed_equations
{% endtest %}
