{#- The newest version of each key of a history (raw entity datasets keep every version they were sent). -#}
{% macro newest_version(relation, key_columns, order_by) %}
    select {{ star_except(['version_rank'], relation) }}
    from (
        select
            *,
            row_number() over (partition by {{ key_columns | join(', ') }} order by {{ order_by }}) as version_rank
        from {{ relation }}
    ) as versions
    where version_rank = 1
{% endmacro %}
