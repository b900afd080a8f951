{#- The first instant strictly after `timestamp_expression` at which the library's clock (var
    library_timezone) shows `local_time_expression` (a time): a site's next closing after an entry,
    its next opening after a closing. -#}
{% macro gate_next_local_time(timestamp_expression, local_time_expression) -%}
    ((
        ({{ timestamp_expression }} at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')::date
        + {{ local_time_expression }}
        + case
            when ({{ timestamp_expression }} at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')::time
                >= {{ local_time_expression }}
                then interval '1 day'
            else interval '0 days'
        end
    ) at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')
{%- endmacro %}

{#- The start of the local hour (var library_timezone) a timestamptz falls in, as a timestamptz. -#}
{% macro local_hour_start(timestamp_expression) -%}
    (date_trunc('hour', ({{ timestamp_expression }}) at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')
        at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')
{%- endmacro %}
