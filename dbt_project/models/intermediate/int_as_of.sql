-- The day the marts describe: the `as_of_date` var, or the newest day any feed has data for.
with

latest as (
    select max(data_date) as day from {{ ref('stg_monitoring__hourly') }}
    union all
    select max(data_date) from {{ ref('stg_stations__air_hourly') }}
    union all
    select max(cast(created_at as date)) from {{ ref('stg_waste__manifest') }}
)

select
    {% if var('as_of_date') %}
    cast('{{ var("as_of_date") }}' as date) as as_of_date
    {% else %}
    coalesce(max(day), current_date) as as_of_date
    {% endif %}
from latest
