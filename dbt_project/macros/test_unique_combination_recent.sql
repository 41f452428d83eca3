{#- No two rows share a key among the newest `days` days of `time_column`. For a large incremental fact:
    its merge on the unique key keeps old days unique, so each run checks what it just added. -#}
{% test unique_combination_recent(model, columns, time_column, days=3) %}
with recent as (
    select *
    from {{ model }}
    where {{ time_column }} >= (select max({{ time_column }}) from {{ model }}) - interval '{{ days }} days'
)
select {{ columns | join(', ') }}, count(*) as rows_with_key
from recent
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
