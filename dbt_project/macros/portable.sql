{#- SQL that differs between engines, behind adapter.dispatch so that the models can run on Spark later. -#}

{#- Every column of the CTE but the ones named. -#}
{% macro star_except(columns) %}
  {{ return(adapter.dispatch('star_except', 'envlake')(columns)) }}
{% endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{#- A stable key from some columns (text), the same on every engine. -#}
{% macro hash_key(columns) -%}
    md5({% for c in columns %}coalesce(cast({{ c }} as varchar), '∅'){% if not loop.last %} || '|' || {% endif %}{% endfor %})
{%- endmacro %}

{#- A timestamp plus a number of hours. -#}
{% macro add_hours(ts, hours) %}
  {{ return(adapter.dispatch('add_hours', 'envlake')(ts, hours)) }}
{% endmacro %}

{% macro default__add_hours(ts, hours) -%}
    ({{ ts }} + to_hours(cast({{ hours }} as bigint)))
{%- endmacro %}

{#- Text values of a group joined in order. -#}
{% macro string_agg_ordered(column, separator, distinct=false) %}
  {{ return(adapter.dispatch('string_agg_ordered', 'envlake')(column, separator, distinct)) }}
{% endmacro %}

{% macro default__string_agg_ordered(column, separator, distinct) -%}
    string_agg({{ 'distinct ' if distinct }}{{ column }}, '{{ separator }}' order by {{ column }})
{%- endmacro %}
