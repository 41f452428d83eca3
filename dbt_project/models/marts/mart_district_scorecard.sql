/*
  环境质量综合排名: the 13 districts ranked on four components, each shown with its own rank (1 is best):
  mean daily AQI over the as-of month, the share of water-section months meeting their target class, the
  exceedance rate (exceeding hours per valid hourly reading of its outlets) and the manifest anomaly rate
  (manifests with an anomaly per manifest sent from the district). The overall rank orders the mean of the
  component ranks; a component without data ranks last.
*/
with

as_of as (
    select as_of_date, cast(date_trunc('month', as_of_date) as date) as month_start
    from {{ ref('int_as_of') }}
),

districts as (
    select district_code, district_name
    from {{ ref('stg_reference__district') }}
    where is_current
),

air as (
    select q.district_code, round(avg(q.aqi), 1) as mean_aqi, count(*) as air_days
    from {{ ref('fct_air_quality_daily') }} as q
    cross join as_of as a
    where q.level = '区县' and q.data_date between a.month_start and a.as_of_date
    group by q.district_code
),

water as (
    select w.district_code,
           round(avg(case when w.meets_target then 1.0 else 0.0 end) * 100, 1) as water_compliance_pct,
           count(*) as water_section_months
    from {{ ref('fct_water_section_class') }} as w
    cross join as_of as a
    where w.month = a.month_start
    group by w.district_code
),

monitoring as (
    select m.district_code,
           round(sum(case when m.is_exceeding then 1 else 0 end) * 100.0
                 / nullif(sum(case when m.is_valid_reading and m.has_limit then 1 else 0 end), 0), 3)
               as exceedance_rate_pct,
           sum(case when m.is_exceeding then 1 else 0 end) as exceeding_hours
    from {{ ref('fct_monitoring_hourly') }} as m
    cross join as_of as a
    where m.data_date between a.month_start and a.as_of_date
    group by m.district_code
),

waste as (
    select t.generator_district_code as district_code,
           round(count(distinct case when t.has_anomaly then t.manifest_no end) * 100.0
                 / nullif(count(distinct t.manifest_no), 0), 2) as manifest_anomaly_rate_pct,
           count(distinct t.manifest_no) as manifests
    from {{ ref('fct_waste_transfer') }} as t
    cross join as_of as a
    where t.created_date between a.month_start and a.as_of_date
    group by t.generator_district_code
),

components as (
    select
        d.district_code,
        d.district_name,
        a.month_start as score_month,
        a.as_of_date,
        air.mean_aqi,
        air.air_days,
        water.water_compliance_pct,
        water.water_section_months,
        monitoring.exceedance_rate_pct,
        monitoring.exceeding_hours,
        waste.manifest_anomaly_rate_pct,
        waste.manifests
    from districts as d
    cross join as_of as a
    left join air on air.district_code = d.district_code
    left join water on water.district_code = d.district_code
    left join monitoring on monitoring.district_code = d.district_code
    left join waste on waste.district_code = d.district_code
),

ranked as (
    select
        *,
        rank() over (order by mean_aqi asc nulls last) as aqi_rank,
        rank() over (order by water_compliance_pct desc nulls last) as water_rank,
        rank() over (order by exceedance_rate_pct asc nulls last) as exceedance_rank,
        rank() over (order by manifest_anomaly_rate_pct asc nulls last) as waste_rank
    from components
)

select
    *,
    round((aqi_rank + water_rank + exceedance_rank + waste_rank) / 4.0, 2) as mean_component_rank,
    rank() over (order by (aqi_rank + water_rank + exceedance_rank + waste_rank), aqi_rank, district_code)
        as overall_rank
from ranked
