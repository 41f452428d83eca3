{#- Retired Hangzhou district codes mapped to today's (DOMAIN.md §8); the map is a var, checked against the
    district reference data by tests/assert_retired_districts_match_reference.sql. -#}
{% macro current_district_code(column) -%}
    case {{ column }}
    {%- for old, new in var('retired_district_successors').items() %}
        when '{{ old }}' then '{{ new }}'
    {%- endfor %}
        else {{ column }}
    end
{%- endmacro %}

{% macro is_hangzhou_district(column) -%}
    ({{ current_district_code(column) }} in ('{{ var("hangzhou_districts") | join("', '") }}'))
{%- endmacro %}
