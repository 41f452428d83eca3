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

{#- Hours (fractional) from one timestamp to a later one. -#}
{% macro hours_between(start, finish) %}
  {{ return(adapter.dispatch('hours_between', 'envlake')(start, finish)) }}
{% endmacro %}

{% macro default__hours_between(start, finish) -%}
    (epoch({{ finish }}) - epoch({{ start }})) / 3600.0
{%- endmacro %}

{#- Days (fractional) from one timestamp to a later one. -#}
{% macro days_between(start, finish) -%}
    ({{ hours_between(start, finish) }} / 24.0)
{%- endmacro %}

{#- A date plus a number of days. -#}
{% macro add_days(day, days) %}
  {{ return(adapter.dispatch('add_days', 'envlake')(day, days)) }}
{% endmacro %}

{% macro default__add_days(day, days) -%}
    cast({{ day }} + to_days(cast({{ days }} as integer)) as date)
{%- endmacro %}

{#- The first day of a date's month. -#}
{% macro month_start(day) %}
  {{ return(adapter.dispatch('month_start', 'envlake')(day)) }}
{% endmacro %}

{% macro default__month_start(day) -%}
    cast(date_trunc('month', {{ day }}) as date)
{%- endmacro %}

{#- A timestamp as text, by a Java-style pattern (yyyy MM dd HH mm ss): Spark's own; DuckDB's strftime here. -#}
{% macro format_timestamp(ts, pattern) %}
  {{ return(adapter.dispatch('format_timestamp', 'envlake')(ts, pattern)) }}
{% endmacro %}

{% macro default__format_timestamp(ts, pattern) -%}
    {%- set strftime = pattern | replace('yyyy', '%Y') | replace('MM', '%m') | replace('dd', '%d')
                               | replace('HH', '%H') | replace('mm', '%M') | replace('ss', '%S') -%}
    strftime({{ ts }}, '{{ strftime }}')
{%- endmacro %}
