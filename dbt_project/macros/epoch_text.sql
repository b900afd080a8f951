{#- A timestamptz as text that does not depend on the session's TimeZone, for hashing keys. -#}
{% macro epoch_text(timestamp_expression) -%}
    coalesce(extract(epoch from {{ timestamp_expression }})::text, '')
{%- endmacro %}
