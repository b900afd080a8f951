{#- Why a cell of an aggregate service mart is suppressed, or null when it is shown.
    'fewer_than_k_users': the cell counts 1 to k-1 persons (var k_anonymity, default 10).
    'complementary': the partition (e.g. the service area across user groups) has exactly one such
    cell, so the smallest shown cell of the partition is hidden too, and the small cell cannot be
    recovered by subtracting the shown cells from a total. Must be used in a select whose rows are
    the cells: it is a window expression over `partition_by`. -#}
{% macro services_suppression_reason(users_column, partition_by) -%}
    {%- set k = var('k_anonymity', 10) | int -%}
    (case
        when {{ users_column }} between 1 and {{ k - 1 }} then 'fewer_than_k_users'
        when count(*) filter (where {{ users_column }} between 1 and {{ k - 1 }})
                over (partition by {{ partition_by }}) = 1
            and {{ users_column }} = min({{ users_column }}) filter (where {{ users_column }} >= {{ k }})
                over (partition by {{ partition_by }})
            then 'complementary'
    end)
{%- endmacro %}
