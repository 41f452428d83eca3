/*
  Daily concentrations per air station (HJ 633-2012 / GB 3095-2012): the 24-hour mean of SO2, NO2, PM10,
  PM2.5 and CO when at least 20 hourly values are valid, the day's highest 8-hour moving mean of O3 (each
  8-hour mean needs 6 values) and the day's highest 1-hour O3.
*/
with

hourly as (
    {{ newest_version(ref('stg_stations__air_hourly'), ['station_code', 'data_time'], 'updated_at desc, ingested_at desc') }}
),

with_o3_8h as (
    select
        *,
        avg(o3) over eight_hours as o3_8h_mean,
        count(o3) over eight_hours as o3_8h_values
    from hourly
    window eight_hours as (partition by station_code order by data_time
                           range between interval 7 hours preceding and current row)
),

daily as (
    select
        station_code,
        max(station_name) as station_name,
        max(district_code) as district_code,
        data_date,
        count(so2) as so2_hours, avg(so2) as so2_mean,
        count(no2) as no2_hours, avg(no2) as no2_mean,
        count(pm10) as pm10_hours, avg(pm10) as pm10_mean,
        count(pm25) as pm25_hours, avg(pm25) as pm25_mean,
        count(co) as co_hours, avg(co) as co_mean,
        count(o3) as o3_hours,
        max(o3) as o3_1h_max,
        max(case when o3_8h_values >= 6 then o3_8h_mean end) as o3_8h_max
    from with_o3_8h
    group by station_code, data_date
)

select
    station_code,
    station_name,
    district_code,
    data_date,
    case when so2_hours >= 20 then so2_mean end as so2_24h,
    case when no2_hours >= 20 then no2_mean end as no2_24h,
    case when pm10_hours >= 20 then pm10_mean end as pm10_24h,
    case when pm25_hours >= 20 then pm25_mean end as pm25_24h,
    case when co_hours >= 20 then co_mean end as co_24h,
    case when o3_hours >= 20 then o3_8h_max end as o3_8h_max,
    case when o3_hours >= 20 then o3_1h_max end as o3_1h_max,
    least(so2_hours, no2_hours, pm10_hours, pm25_hours, co_hours, o3_hours) as fewest_valid_hours
from daily
