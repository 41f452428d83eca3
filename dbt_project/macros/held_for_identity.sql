{#-
  A feed's raw rows, plus the rows quarantined only because a credit-code field is missing or fails its
  checksum. Those rows stay in quarantine (the lake's accounting is unchanged) but are read back here so that
  enterprise resolution can still link them by name and district. `record_origin` says which is which.
-#}
{% macro held_for_identity(source_name, table, identity_fields) %}
    {%- set columns = [] -%}
    {%- if execute -%}
        {%- set node = graph.sources['source.envlake.' ~ source_name ~ '.' ~ table] -%}
        {%- for name, col in node.columns.items() -%}
            {%- do columns.append((name, col.data_type)) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- set allowed = [] -%}
    {%- for f in identity_fields -%}
        {%- do allowed.append("'" ~ table ~ "." ~ f ~ ".checksum'") -%}
        {%- do allowed.append("'" ~ table ~ "." ~ f ~ ".not_null'") -%}
    {%- endfor %}
    select
        {%- for name, type in columns %}
        {{ name }},
        {%- endfor %}
        'raw' as record_origin
    from {{ source(source_name, table) }}
    union all
    select
        {%- for name, type in columns %}
        {{ 'try_cast(' ~ name ~ ' as ' ~ lake_type(type) ~ ')' if type != 'varchar' else name }} as {{ name }},
        {%- endfor %}
        'quarantine' as record_origin
    from (
        -- a daily export quarantines the same bad row again each day: keep one copy
        select *, row_number() over (partition by _record_hash order by _ingested_at) as copy_rank
        from {{ source(source_name ~ '_quarantine', table) }}
    ) as held
    where copy_rank = 1 and {{ all_rules_in('_failed_rules', allowed) }}
{% endmacro %}

{% macro all_rules_in(column, allowed) %}
  {{ return(adapter.dispatch('all_rules_in', 'envlake')(column, allowed)) }}
{% endmacro %}

{% macro default__all_rules_in(column, allowed) -%}
    list_has_all([{{ allowed | join(', ') }}], string_split({{ column }}, ','))
{%- endmacro %}

{% macro spark__all_rules_in(column, allowed) -%}
    (size(array_except(split({{ column }}, ','), array({{ allowed | join(', ') }}))) = 0)
{%- endmacro %}
