{#-
  Every source is a view in the schema of its source name (lake_raw, lake_quarantine), created before each
  run over the lake's Parquet files. A dataset with no file yet gets an empty view with the contract's
  columns, so a model never fails on a feed that has not delivered. New files are seen by the next query:
  the view reads the folder, not a list of files.
-#}
{% macro create_lake_views() %}
  {{ return(adapter.dispatch('create_lake_views', 'envlake')()) }}
{% endmacro %}

{% macro default__create_lake_views() %}
  {% if execute %}
    {% set lake = env_var('ENVLAKE_LAKE', '../lake') %}
    {% for src in graph.sources.values() if src.meta.get('lake_zone') %}
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
