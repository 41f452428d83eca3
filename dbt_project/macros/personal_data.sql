{#- Personal data taken out of free text before it is shared: resident ID numbers (any 17 digits and a digit
or X), mobile numbers, e-mail addresses, and the writer's own name where it appears. What was removed is
said in the text ([身份证号已隐去], …) so that a reader knows something was there. The publish gate's PII
detector scans the result again: anything this misses blocks the publish. -#}
{% macro redact_personal_data(text, own_name=none) %}
  {{ return(adapter.dispatch('redact_personal_data', 'envlake')(text, own_name)) }}
{% endmacro %}

{% macro default__redact_personal_data(text, own_name) -%}
    {%- set named = "case when length(" ~ own_name ~ ") >= 2 then replace(" ~ text ~ ", " ~ own_name ~ ", '某某') else "
                     ~ text ~ " end" if own_name else text -%}
    {%- set no_id = replace_every(named, '[0-9]{17}[0-9Xx]', '[身份证号已隐去]') -%}
    {%- set no_phone = replace_every(no_id, '1[3-9][0-9]{9}', '[手机号已隐去]') -%}
    {{ replace_every(no_phone, '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}', '[邮箱已隐去]') }}
{%- endmacro %}


{#- Every match of a pattern replaced: DuckDB needs the 'g' flag, Spark replaces every match anyway. -#}
{% macro replace_every(text, pattern, replacement) %}
  {{ return(adapter.dispatch('replace_every', 'envlake')(text, pattern, replacement)) }}
{% endmacro %}

{% macro default__replace_every(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}', 'g')
{%- endmacro %}

{% macro spark__replace_every(text, pattern, replacement) -%}
    regexp_replace({{ text }}, '{{ pattern }}', '{{ replacement }}')
{%- endmacro %}
