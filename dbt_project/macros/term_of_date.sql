{#- The academic term a date falls in, named as Chinese universities name terms: '2025-2026-1' for
    the autumn term of academic year 2025-2026 (from var autumn_term_first_month, August by
    default, to the January after), '2025-2026-2' for the spring term (from var
    spring_term_first_month, February by default, to July). Used by the service marts and the
    second-classroom transcript. -#}
{% macro term_of_date(date_expression) -%}
    {%- set autumn = var('autumn_term_first_month', 8) | int -%}
    {%- set spring = var('spring_term_first_month', 2) | int -%}
    (case
        when extract(month from {{ date_expression }}) >= {{ autumn }}
            then extract(year from {{ date_expression }})::integer::text
                || '-' || (extract(year from {{ date_expression }})::integer + 1)::text || '-1'
        when extract(month from {{ date_expression }}) < {{ spring }}
            then (extract(year from {{ date_expression }})::integer - 1)::text
                || '-' || extract(year from {{ date_expression }})::integer::text || '-1'
        else (extract(year from {{ date_expression }})::integer - 1)::text
            || '-' || extract(year from {{ date_expression }})::integer::text || '-2'
    end)
{%- endmacro %}
