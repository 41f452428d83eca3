-- One row per exceedance event: a run of consecutive exceeding hours of one pollutant at one outlet.
select
    event_id,
    max(mn) as mn,
    max(permit_no) as permit_no,
    max(outlet_code) as outlet_code,
    max(enterprise_key) as enterprise_key,
    max(district_code) as district_code,
    max(industry_code) as industry_code,
    max(pollutant_code) as pollutant_code,
    max(pollutant_name) as pollutant_name,
    min(event_start) as event_start,
    max(event_end) as event_end,
    cast(min(event_start) as date) as event_date,
    count(*) as event_hours,
    max(avg_value) as peak_value,
    max(concentration_limit) as concentration_limit,
    max(concentration_unit) as concentration_unit,
    max(exceedance_pct) as peak_exceedance_pct,
    round(avg(exceedance_pct), 2) as mean_exceedance_pct
from {{ ref('fct_exceedance') }}
group by event_id
