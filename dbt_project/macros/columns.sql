{#- Column groups that every staging model with a credit code or a district code repeats. -#}

{#- `<column>` trimmed and upper-cased, and `<column>_is_valid` (both check characters). -#}
{% macro credit_code_columns(column) -%}
    {{ normalise_credit_code(column) }} as {{ column }},
        {{ uscc_is_valid(normalise_credit_code(column)) }} as {{ column }}_is_valid
{%- endmacro %}

{#- `<column>_reported` as sent, `<column>` mapped to today's code, `<column>_is_valid` (a Hangzhou district). -#}
{% macro district_code_columns(column) -%}
    {{ column }} as {{ column }}_reported,
        {{ current_district_code(column) }} as {{ column }},
        {{ is_hangzhou_district(column) }} as {{ column }}_is_valid
{%- endmacro %}
