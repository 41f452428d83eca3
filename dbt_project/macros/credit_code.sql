{#- Unified social credit code (GB 32100-2015): trimmed and upper-cased; valid when both check characters hold. -#}
{% macro normalise_credit_code(column) -%}
    nullif(upper(trim({{ column }})), '')
{%- endmacro %}

{% macro uscc_is_valid(column) %}
  {{ return(adapter.dispatch('uscc_is_valid', 'envlake')(column)) }}
{% endmacro %}

{% macro default__uscc_is_valid(column) -%}
    {%- set alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY' -%}
    coalesce(
        regexp_full_match({{ column }}, '[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}')
        and substr('{{ alphabet }}', cast(1 + (31 - list_sum(list_transform(range(17),
                lambda i: (strpos('{{ alphabet }}', substr({{ column }}, i + 1, 1)) - 1)
                     * [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28][i + 1])) % 31) % 31 as bigint), 1)
            = substr({{ column }}, 18, 1)
        and substr('0123456789X', cast(1 + (11 - list_sum(list_transform(range(8),
                lambda i: (strpos('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr({{ column }}, i + 9, 1)) - 1)
                     * [3, 7, 9, 10, 5, 8, 4, 2][i + 1])) % 11) % 11 as bigint), 1)
            = substr({{ column }}, 17, 1),
        false)
{%- endmacro %}

{#- The same checks with Spark's arrays (0-based) and higher-order functions. -#}
{% macro spark__uscc_is_valid(column) -%}
    {%- set alphabet = '0123456789ABCDEFGHJKLMNPQRTUWXY' -%}
    coalesce(
        {{ column }} rlike '^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$'
        and substr('{{ alphabet }}', cast(1 + (31 - aggregate(transform(sequence(0, 16),
                i -> (instr('{{ alphabet }}', substr({{ column }}, i + 1, 1)) - 1)
                     * array(1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)[i]), 0, (a, b) -> a + b) % 31) % 31 as bigint), 1)
            = substr({{ column }}, 18, 1)
        and substr('0123456789X', cast(1 + (11 - aggregate(transform(sequence(0, 7),
                i -> (instr('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ', substr({{ column }}, i + 9, 1)) - 1)
                     * array(3, 7, 9, 10, 5, 8, 4, 2)[i]), 0, (a, b) -> a + b) % 11) % 11 as bigint), 1)
            = substr({{ column }}, 17, 1),
        false)
{%- endmacro %}

{#- An enterprise name reduced to what departments agree on: no spaces, ASCII brackets, no legal-form suffix. -#}
{% macro normalise_enterprise_name(column) -%}
    regexp_replace(
        regexp_replace(
            replace(replace(replace(replace(trim({{ column }}), ' ', ''), '　', ''), '（', '('), '）', ')'),
            '(股份)?(有限责任公司|有限公司|公司)$', ''),
        '^杭州市', '杭州')
{%- endmacro %}
