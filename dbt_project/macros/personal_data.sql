{#- Personal data taken out of free text before it is shared: resident ID numbers (any 17 digits and a digit
or X), mobile numbers, e-mail addresses, and the writer's own name where it appears. What was removed is
said in the text ([身份证号已隐去], …) so that a reader knows something was there. The publish gate's PII
detector scans the result again: anything this misses blocks the publish. -#}
{% macro redact_personal_data(text, own_name=none) %}
  {{ return(adapter.dispatch('redact_personal_data', 'envlake')(text, own_name)) }}
{% endmacro %}

{% macro default__redact_personal_data(text, own_name) -%}
    regexp_replace(regexp_replace(regexp_replace(
        {%- if own_name %}
        case when length({{ own_name }}) >= 2 then replace({{ text }}, {{ own_name }}, '某某') else {{ text }} end,
        {%- else %}
        {{ text }},
        {%- endif %}
        '[0-9]{17}[0-9Xx]', '[身份证号已隐去]', 'g'),
        '1[3-9][0-9]{9}', '[手机号已隐去]', 'g'),
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}', '[邮箱已隐去]', 'g')
{%- endmacro %}

{#- Spark's regexp_replace replaces every match (no flag). -#}
{% macro spark__redact_personal_data(text, own_name) -%}
    regexp_replace(regexp_replace(regexp_replace(
        {%- if own_name %}
        case when length({{ own_name }}) >= 2 then replace({{ text }}, {{ own_name }}, '某某') else {{ text }} end,
        {%- else %}
        {{ text }},
        {%- endif %}
        '[0-9]{17}[0-9Xx]', '[身份证号已隐去]'),
        '1[3-9][0-9]{9}', '[手机号已隐去]'),
        '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+([.][A-Za-z0-9-]+)*[.][A-Za-z]{2,}', '[邮箱已隐去]')
{%- endmacro %}
