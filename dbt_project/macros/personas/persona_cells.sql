{#- The measures of a group or organisational persona cell, aggregated over the user-months of
    the cell (int_persona_user_months joined to the month's lifecycle stage). Counts of persons
    end in _users; measures describe the cell's active users (users with a use in the month). -#}
{% macro persona_cell_aggregates() -%}
        count(*) as population_users,
        count(*) filter (where is_active) as active_users,
        {%- for measure, expression in [
            ('loans', 'loans'),
            ('active_days', 'active_days'),
            ('visits', 'visits'),
            ('dwell_hours', 'dwell_minutes / 60.0'),
            ('eresource_sessions', 'eresource_sessions'),
            ('participation_events', 'participation_events'),
        ] %}
        percentile_cont(0.5) within group (order by {{ expression }}) filter (where is_active)
            as median_{{ measure }},
        percentile_cont(0.9) within group (order by {{ expression }}) filter (where is_active)
            as p90_{{ measure }},
        {%- endfor %}
        {%- for channel in ['physical', 'digital', 'both', 'none'] %}
        count(*) filter (where channel = '{{ channel }}') as channel_{{ channel }}_users,
        {%- endfor %}
        {%- for stage in lifecycle_stages() %}
        count(*) filter (where stage = '{{ stage }}') as stage_{{ stage }}_users{{ "," if not loop.last }}
        {%- endfor %}
{%- endmacro %}

{% macro lifecycle_stages() -%}
    {{ return(['potential', 'new', 'active', 'loyal', 'at_risk', 'lapsed', 'reactivated']) }}
{%- endmacro %}

{#- The *_users columns of group_persona and org_persona, and the identities that hold in each
    of their rows (declared to suppress_small_cells and to the small_cells_protected test). -#}
{% macro persona_users_columns() -%}
    {%- set columns = ['population_users', 'active_users'] -%}
    {%- for channel in ['physical', 'digital', 'both', 'none'] -%}
        {%- do columns.append('channel_' ~ channel ~ '_users') -%}
    {%- endfor -%}
    {%- for stage in lifecycle_stages() -%}
        {%- do columns.append('stage_' ~ stage ~ '_users') -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{% macro persona_row_equations() -%}
    {%- set stages = [] -%}
    {%- for stage in lifecycle_stages() -%}
        {%- do stages.append('stage_' ~ stage ~ '_users') -%}
    {%- endfor -%}
    {{ return([
        {'total': 'population_users', 'parts': stages},
        {'total': 'population_users', 'parts': [
            'channel_physical_users', 'channel_digital_users', 'channel_both_users', 'channel_none_users']},
        {'total': 'active_users', 'parts': [
            'channel_physical_users', 'channel_digital_users', 'channel_both_users']},
        {'total': 'population_users', 'parts': ['active_users', 'channel_none_users']},
    ]) }}
{%- endmacro %}

{#- Measures of group_persona and org_persona, and the counts each is computed from. -#}
{% macro persona_measure_columns() -%}
    {%- set measures = {
        'active_users_per_1000': ['active_users', 'population_users'],
        'top_subject_classes': ['active_users'],
    } -%}
    {%- for measure in ['loans', 'active_days', 'visits', 'dwell_hours', 'eresource_sessions', 'participation_events'] -%}
        {%- do measures.update({'median_' ~ measure: ['active_users'], 'p90_' ~ measure: ['active_users']}) -%}
    {%- endfor -%}
    {{ return(measures) }}
{%- endmacro %}

{#- The measure and count columns of group_persona and org_persona, in output order. -#}
{% macro persona_output_columns() -%}
    {%- set columns = ['population_users', 'active_users', 'active_users_per_1000'] -%}
    {%- for measure in ['loans', 'active_days', 'visits', 'dwell_hours', 'eresource_sessions', 'participation_events'] -%}
        {%- do columns.extend(['median_' ~ measure, 'p90_' ~ measure]) -%}
    {%- endfor -%}
    {%- do columns.append('top_subject_classes') -%}
    {%- for channel in ['physical', 'digital', 'both', 'none'] -%}
        {%- do columns.append('channel_' ~ channel ~ '_users') -%}
    {%- endfor -%}
    {%- for stage in lifecycle_stages() -%}
        {%- do columns.append('stage_' ~ stage ~ '_users') -%}
    {%- endfor -%}
    {{ return(columns) }}
{%- endmacro %}

{#- The typed select list of those columns, for the marts' final select. -#}
{% macro persona_output_select(relation) -%}
    {%- for column in persona_output_columns() %}
        {%- if column.endswith('_users') %}
        {{ relation }}.{{ column }}::bigint as {{ column }},
        {%- elif column == 'top_subject_classes' %}
        {{ relation }}.{{ column }}::text as {{ column }},
        {%- else %}
        round({{ relation }}.{{ column }}::numeric, 1)::numeric(12, 1) as {{ column }},
        {%- endif %}
    {%- endfor %}
{%- endmacro %}
