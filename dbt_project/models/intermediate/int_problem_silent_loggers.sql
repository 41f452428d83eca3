-- Data loggers that went silent: an enterprise's own monitoring with no hourly reading for longer than its
-- cycle plus grace (var silent_logger_hours) before the newest reading in the lake. One row per silence,
-- keyed by the logger and its last reading, so that a logger silent again later is a new problem.
with

last_reading as (
    select
        mn,
        max(enterprise_key) as enterprise_key,
        max(district_code) as district_code,
        max(data_time) as last_data_time
    from {{ ref('fct_monitoring_hourly') }}
    group by mn
),

newest as (
    select max(data_time) as newest_data_time from {{ ref('fct_monitoring_hourly') }}
)

select
    last_reading.mn,
    last_reading.enterprise_key,
    last_reading.district_code,
    last_reading.last_data_time,
    newest.newest_data_time,
    {{ hours_between('last_reading.last_data_time', 'newest.newest_data_time') }} as silent_hours
from last_reading
cross join newest
where {{ hours_between('last_reading.last_data_time', 'newest.newest_data_time') }} > {{ var('silent_logger_hours') }}
