{#- The calendar year in which the academic year containing a date began (var
    academic_year_start_month, September by default). -#}
{% macro academic_year_start(date_expression) -%}
    (case
        when extract(month from {{ date_expression }}) >= {{ var('academic_year_start_month', 9) }}
            then extract(year from {{ date_expression }})::integer
        else extract(year from {{ date_expression }})::integer - 1
    end)
{%- endmacro %}

{#- dim_user's user_group rule, evaluated in any academic year (not only the roster's): persona
    marts place a user in the group they belonged to in each month. Keep it in step with
    dim_user.user_group. -#}
{% macro persona_user_group(user_type, degree_level, entry_year, expected_graduation_year, academic_year_start) -%}
    (case
        when {{ user_type }} = 'faculty' then 'faculty'
        when {{ user_type }} = 'staff' then 'staff'
        when {{ user_type }} <> 'student' then null
        when {{ expected_graduation_year }} <= {{ academic_year_start }} + 1 then 'graduating'
        when {{ degree_level }} in ('master', 'doctoral') then 'postgraduate'
        when {{ academic_year_start }} - {{ entry_year }} + 1 <= 1 then 'freshman'
        when {{ academic_year_start }} - {{ entry_year }} + 1 = 2 then 'lower_undergraduate'
        when {{ academic_year_start }} - {{ entry_year }} + 1 >= 3 then 'upper_undergraduate'
    end)
{%- endmacro %}

{#- Time of day of a local hour (0-23): morning 6-11, afternoon 12-17, evening 18-21, night 22-5. -#}
{% macro hour_band(hour_expression) -%}
    (case
        when {{ hour_expression }} between 6 and 11 then 'morning'
        when {{ hour_expression }} between 12 and 17 then 'afternoon'
        when {{ hour_expression }} between 18 and 21 then 'evening'
        else 'night'
    end)
{%- endmacro %}

{#- English name of an ISO day of the week (1 = Monday). -#}
{% macro weekday_name(isodow_expression) -%}
    ((array['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'])[{{ isodow_expression }}])
{%- endmacro %}
