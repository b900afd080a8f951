{#- Use the folder's schema as it is (staging, intermediate, marts), not target_schema + "_" + name:
    the warehouse's schemas and the roles' grants are fixed by the design. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
