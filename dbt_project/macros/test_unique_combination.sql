{#- A grain made of several columns (dbt_utils.unique_combination_of_columns without the package:
    the project installs nothing from the dbt hub at run time). Nulls count as values. -#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as rows_with_this_key
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
