{#- The calendar date of a timestamptz in the library's time zone (var library_timezone; by default
    Asia/Shanghai, as ingest's Koha parser), so that a loan at 23:30 local time stays on its day. -#}
{% macro local_date(timestamp_expression) -%}
    (({{ timestamp_expression }}) at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')::date
{%- endmacro %}
