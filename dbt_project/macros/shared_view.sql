{#- The shared/ projection of a published model: a view `<model>__shared` beside it, made by a post-hook.

Every column goes to shared/ except those whose YAML meta says `shared: false` (withheld, with a reason).
Columns declared 有条件共享 (`sharing_class: conditional`) or given a `mask` are masked here, so shared/ never
holds them in the clear; the access service shows them in the clear only to departments granted them.
A column classified 不予共享 or L4 is not dropped silently: it reaches the view and the publish gate refuses it. -#}
{% macro create_shared_view() %}
  {%- set columns = adapter.get_columns_in_relation(this) -%}
  {%- set declared = model.columns or {} -%}
  create or replace view {{ this.schema }}.{{ adapter.quote(this.identifier ~ '__shared') }} as
  select
  {%- for col in columns if (declared.get(col.name, {}).get('meta', {}) or {}).get('shared', true) %}
    {{ shared_column(adapter.quote(col.name), col.dtype, declared.get(col.name, {}).get('meta', {}) or {}) }}
        as {{ adapter.quote(col.name) }}{{ "," if not loop.last }}
  {%- endfor %}
  from {{ this }}
{% endmacro %}

{#- One column as shared/ shows it: masked when conditional or given a `mask`, else as it is. -#}
{% macro shared_column(column, data_type, meta) -%}
  {%- if meta.get('sharing_class') == 'conditional' or meta.get('mask') -%}
    {{ mask_value(column, data_type, meta.get('mask') or ('hash' if ('char' in data_type | lower or 'string' in data_type | lower) else 'redact')) }}
  {%- else -%}
    {{ column }}
  {%- endif -%}
{%- endmacro %}

{#- Masking methods: `hash` (a stable 16-character digest: joins still work, values do not show),
`partial` (first character kept: 张**; phone numbers keep their first 3 and last 4 digits), `redact` (null). -#}
{% macro mask_value(column, data_type, method) %}
  {{ return(adapter.dispatch('mask_value', 'envlake')(column, data_type, method)) }}
{% endmacro %}

{% macro default__mask_value(column, data_type, method) -%}
  {%- if method == 'hash' -%}
    {%- set text = 'cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case when {{ column }} is not null then left(md5('envlake:' || {{ text }}), 16) end
  {%- elif method == 'partial' -%}
    {%- set text = 'cast(' ~ column ~ ' as ' ~ dbt.type_string() ~ ')' -%}
    case when {{ column }} is null then null
         when {{ regexp_contains(text, '^1[3-9][0-9]{9}$') }}
             then left({{ text }}, 3) || '****' || right({{ text }}, 4)
         else left({{ text }}, 1) || '**' end
  {%- elif method == 'redact' -%}
    cast(null as {{ data_type }})
  {%- else -%}
    {{ exceptions.raise_compiler_error("unknown mask method '" ~ method ~ "' for " ~ column ~ ": use hash, partial or redact") }}
  {%- endif -%}
{%- endmacro %}
