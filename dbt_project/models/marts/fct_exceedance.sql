/*
  Every valid (flag N) hourly average above its outlet's permitted limit, grouped into events: a run of
  consecutive exceeding hours of one pollutant at one outlet. An hour that is missing, not exceeding or
  flagged other than N ends the run.
*/
with

exceeding as (
    select *
    from {{ ref('fct_monitoring_hourly') }}
    where is_exceeding
),

islands as (
    select
        *,
        -- consecutive hours share the same anchor: the hour minus its position in the run
        {{ add_hours('data_time', '-row_number() over (partition by mn, pollutant_code order by data_time)') }}
            as run_anchor
    from exceeding
),

events as (
    select
        *,
        {{ hash_key(['mn', 'pollutant_code', 'run_anchor']) }} as event_id,
        min(data_time) over (partition by mn, pollutant_code, run_anchor) as event_start,
        max(data_time) over (partition by mn, pollutant_code, run_anchor) as event_end,
        count(*) over (partition by mn, pollutant_code, run_anchor) as event_hours
    from islands
)

select
    reading_id,
    event_id,
    mn,
    permit_no,
    outlet_code,
    enterprise_key,
    district_code,
    industry_code,
    pollutant_code,
    pollutant_name,
    data_time,
    data_date,
    avg_value,
    concentration_limit,
    concentration_unit,
    exceedance_pct,
    event_start,
    event_end,
    event_hours
from events
