{#- The academic year a date falls in, named by the calendar year it starts in (var
    academic_year_start_month, September by default). -#}
{% macro academic_year_of(date_expression) -%}
    (case
        when extract(month from ({{ date_expression }})) >= {{ var('academic_year_start_month', 9) }}
            then extract(year from ({{ date_expression }}))::integer
        else extract(year from ({{ date_expression }}))::integer - 1
    end)
{%- endmacro %}

{#- The instant an academic year starts: the first day of its start month, midnight local time. -#}
{% macro academic_year_start_instant(year_expression) -%}
    (make_date(({{ year_expression }})::integer, {{ var('academic_year_start_month', 9) }}, 1)::timestamp
        at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')
{%- endmacro %}

{#- Year of study in a given academic year: 1 in the year of entry (students only). -#}
{% macro year_of_study(user_type, entry_year, academic_year) -%}
    (case when {{ user_type }} = 'student' then {{ academic_year }} - {{ entry_year }} + 1 end)::integer
{%- endmacro %}

{#- The group persona of a person in a given academic year. Faculty and staff by type; students:
    graduating in their final year (expected graduation no later than the end of that academic
    year), else postgraduate for master's and doctoral students, else by year of study. One
    definition for dim_user, dim_user_history and the facts' event-time attributes. -#}
{% macro user_group(user_type, degree_level, entry_year, expected_graduation_year, academic_year) -%}
    (case
        when {{ user_type }} = 'faculty' then 'faculty'
        when {{ user_type }} = 'staff' then 'staff'
        when {{ user_type }} <> 'student' then null
        when {{ expected_graduation_year }} <= {{ academic_year }} + 1 then 'graduating'
        when {{ degree_level }} in ('master', 'doctoral') then 'postgraduate'
        when {{ academic_year }} - {{ entry_year }} + 1 <= 1 then 'freshman'
        when {{ academic_year }} - {{ entry_year }} + 1 = 2 then 'lower_undergraduate'
        when {{ academic_year }} - {{ entry_year }} + 1 >= 3 then 'upper_undergraduate'
    end)::text
{%- endmacro %}

{#- The instant a local calendar date begins (var library_timezone). -#}
{% macro local_midnight(date_expression) -%}
    (({{ date_expression }})::timestamp at time zone '{{ var("library_timezone", "Asia/Shanghai") }}')
{%- endmacro %}
