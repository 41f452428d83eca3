{#-
  Every source is a view in the schema of its source name (lake_raw, lake_quarantine), created before each
  run over the lake's Parquet files. A dataset with no file yet gets an empty view with the contract's
  columns, so a model never fails on a feed that has not delivered. New files are seen by the next query:
  the view reads the folder, not a list of files.
-#}
{% macro create_lake_views() %}
  {{ return(adapter.dispatch('create_lake_views', 'envlake')()) }}
{% endmacro %}

{#- The sources this invocation reads: those the selected nodes depend on directly. A Cosmos task builds one
node, so it refreshes one or two views instead of all of them (about a second less per task); the views the
other nodes read were made by their own tasks and stay valid, as a view reads its folder, not a file list. -#}
{% macro sources_to_refresh() %}
  {%- set wanted = [] -%}
  {%- for uid in selected_resources or [] -%}
    {%- do wanted.append(uid) -%}
    {%- set node = graph.nodes.get(uid) -%}
    {%- for dep in (node.depends_on.nodes if node else []) if dep.startswith('source.') -%}
      {%- do wanted.append(dep) -%}
    {%- endfor -%}
  {%- endfor -%}
  {%- set lake_sources = [] -%}
  {%- for src in graph.sources.values() if src.meta.get('lake_zone') -%}
    {%- if src.unique_id in wanted or not selected_resources -%}
      {%- do lake_sources.append(src) -%}
    {%- endif -%}
  {%- endfor -%}
  {{ return(lake_sources) }}
{% endmacro %}

{% macro default__create_lake_views() %}
  {% if execute %}
    {% set lake = env_var('ENVLAKE_LAKE', '../lake') %}
    {% for src in sources_to_refresh() %}
      {% set folder = lake ~ '/' ~ src.meta['lake_zone'] ~ '/' ~ src.meta['dataset'] %}
      {% set pattern = folder ~ '/**/*.parquet' %}
      {% do run_query('create schema if not exists ' ~ src.schema) %}
      {% set found = run_query("select count(*) from glob('" ~ pattern ~ "')").columns[0].values()[0] %}
      {% if found > 0 %}
        {% set body = "select * from read_parquet('" ~ pattern ~ "', hive_partitioning = true, union_by_name = true)" %}
      {% else %}
        {% set cols = [] %}
        {% for name, col in src.columns.items() %}
          {% do cols.append('cast(null as ' ~ col.data_type ~ ') as ' ~ name) %}
        {% endfor %}
        {% set body = 'select ' ~ cols | join(', ') ~ ' where false' %}
      {% endif %}
      {% do run_query('create or replace view ' ~ src.schema ~ '.' ~ src.identifier ~ ' as ' ~ body) %}
    {% endfor %}
  {% endif %}
{% endmacro %}

{#- On Spark each source is an external Parquet table over its folder, partitioned as the lake writer lays it out
(`partition_column`: ingest_date, or event_date for facts), its columns typed from the contract so that a feed with no file yet reads as empty. Which
folders hold files comes from the `lake_datasets` var (`envlake models build --target spark` lists them);
without it every folder is taken to have some. -#}
{% macro spark__create_lake_views() %}
  {% if execute %}
    {% set lake = env_var('ENVLAKE_LAKE', '../lake') %}
    {% set present = var('lake_datasets', none) %}
    {% for src in sources_to_refresh() %}
      {% set folder = src.meta['lake_zone'] ~ '/' ~ src.meta['dataset'] %}
      {% set relation = src.schema ~ '.' ~ src.identifier %}
      {% set partition = src.meta['partition_column'] %}
      {% set cols = [] %}
      {% for name, col in src.columns.items() if name != partition %}
        {% do cols.append(adapter.quote(name) ~ ' ' ~ lake_type(col.data_type)) %}
      {% endfor %}
      {% do run_query('create schema if not exists ' ~ src.schema) %}
      {% do run_query('drop view if exists ' ~ relation) %}
      {% do run_query('drop table if exists ' ~ relation) %}
      {% if present is none or folder in present %}
        {% do run_query('create table ' ~ relation ~ ' (' ~ cols | join(', ') ~ ', ' ~ partition ~ ' date) using parquet '
                        ~ 'partitioned by (' ~ partition ~ ') location ' ~ "'" ~ lake ~ '/' ~ folder ~ "'") %}
        {% do run_query('msck repair table ' ~ relation) %}
      {% else %}
        {% set nulls = [] %}
        {% for name, col in src.columns.items() %}
          {% do nulls.append('cast(null as ' ~ lake_type(col.data_type) ~ ') as ' ~ adapter.quote(name)) %}
        {% endfor %}
        {% do run_query('create view ' ~ relation ~ ' as select ' ~ nulls | join(', ') ~ ' where false') %}
      {% endif %}
    {% endfor %}
  {% endif %}
{% endmacro %}

{#- A contract's column type as the engine spells it. -#}
{% macro lake_type(data_type) %}
  {{ return(adapter.dispatch('lake_type', 'envlake')(data_type)) }}
{% endmacro %}

{% macro default__lake_type(data_type) %}
  {{ return(data_type) }}
{% endmacro %}

{% macro spark__lake_type(data_type) %}
  {%- set spark_types = {'varchar': 'string', 'ubigint': 'decimal(20,0)', 'timestamp with time zone': 'timestamp_ltz',
                         'timestamp': 'timestamp_ntz'} -%}
  {{ return(spark_types.get(data_type | lower, data_type)) }}
{% endmacro %}
