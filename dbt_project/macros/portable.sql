{#- SQL that differs between engines, behind adapter.dispatch so that the models can run on Spark later. -#}

{#- Every column of a subquery over `relation` but the ones named (the subquery's own, like a rank, included). -#}
{% macro star_except(columns, relation) %}
  {{ return(adapter.dispatch('star_except', 'envlake')(columns, relation)) }}
{% endmacro %}

{% macro default__star_except(columns, relation) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{#- Spark has no `* except`: the relation's own columns, listed when the model runs. -#}
{% macro spark__star_except(columns, relation) -%}
    {%- if execute -%}
        {%- set kept = [] -%}
        {%- for col in adapter.get_columns_in_relation(relation) if col.name not in columns -%}
            {%- do kept.append(adapter.quote(col.name)) -%}
        {%- endfor -%}
        {{ kept | join(', ') }}
    {%- else -%}
        *
    {%- endif -%}
{%- endmacro %}

{#- A stable key from some columns (text), the same on every engine. -#}
{% macro hash_key(columns) -%}
    md5({% for c in columns %}coalesce(cast({{ c }} as {{ dbt.type_string() }}), '∅'){% if not loop.last %} || '|' || {% endif %}{% endfor %})
{%- endmacro %}

{#- A timestamp plus a number of hours. -#}
{% macro add_hours(ts, hours) %}
  {{ return(adapter.dispatch('add_hours', 'envlake')(ts, hours)) }}
{% endmacro %}

{% macro default__add_hours(ts, hours) -%}
    ({{ ts }} + to_hours(cast({{ hours }} as bigint)))
{%- endmacro %}

{% macro spark__add_hours(ts, hours) -%}
    ({{ ts }} + make_dt_interval(0, cast({{ hours }} as int), 0, 0))
{%- endmacro %}

{#- Text values of a group joined in order. -#}
{% macro string_agg_ordered(column, separator, distinct=false) %}
  {{ return(adapter.dispatch('string_agg_ordered', 'envlake')(column, separator, distinct)) }}
{% endmacro %}

{% macro default__string_agg_ordered(column, separator, distinct) -%}
    string_agg({{ 'distinct ' if distinct }}{{ column }}, '{{ separator }}' order by {{ column }})
{%- endmacro %}

{% macro spark__string_agg_ordered(column, separator, distinct) -%}
    nullif(array_join(array_sort({{ 'collect_set' if distinct else 'collect_list' }}({{ column }})), '{{ separator }}'), '')
{%- endmacro %}

{#- Hours (fractional) from one timestamp to a later one. -#}
{% macro hours_between(start, finish) %}
  {{ return(adapter.dispatch('hours_between', 'envlake')(start, finish)) }}
{% endmacro %}

{% macro default__hours_between(start, finish) -%}
    (epoch({{ finish }}) - epoch({{ start }})) / 3600.0
{%- endmacro %}

{% macro spark__hours_between(start, finish) -%}
    ((unix_micros(cast({{ finish }} as timestamp_ltz)) - unix_micros(cast({{ start }} as timestamp_ltz))) / 3600000000.0)
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

{% macro spark__add_days(day, days) -%}
    date_add({{ day }}, cast({{ days }} as int))
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

{% macro spark__format_timestamp(ts, pattern) -%}
    date_format({{ ts }}, '{{ pattern }}')
{%- endmacro %}

{#- A text split into a list (an array) at a separator. -#}
{% macro split_text(text, separator) %}
  {{ return(adapter.dispatch('split_text', 'envlake')(text, separator)) }}
{% endmacro %}

{% macro default__split_text(text, separator) -%}
    string_split({{ text }}, '{{ separator }}')
{%- endmacro %}

{% macro spark__split_text(text, separator) -%}
    split({{ text }}, '{{ separator }}')
{%- endmacro %}

{#- Whether a text matches a regular expression somewhere. -#}
{% macro regexp_contains(text, pattern) %}
  {{ return(adapter.dispatch('regexp_contains', 'envlake')(text, pattern)) }}
{% endmacro %}

{% macro default__regexp_contains(text, pattern) -%}
    regexp_matches({{ text }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__regexp_contains(text, pattern) -%}
    ({{ text }} rlike '{{ pattern }}')
{%- endmacro %}
