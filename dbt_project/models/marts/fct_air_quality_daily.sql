/*
  Air quality index per day, for each station and each district (HJ 633-2012): IAQI of each pollutant by
  linear interpolation between the breakpoints of seeds/aqi_breakpoints.csv, rounded up; AQI is the highest
  IAQI; the primary pollutant(s) are those at the AQI when it is above 50. A district's day uses the mean
  concentration of its stations. A pollutant with fewer than 20 valid hours that day has no IAQI.
*/
with

stations as (
    select
        '站点' as level, station_code as area_code, station_name as area_name, district_code, data_date,
        so2_24h, no2_24h, pm10_24h, pm25_24h, co_24h, o3_8h_max, o3_1h_max, 1 as station_count
    from {{ ref('int_air_station_daily') }}
),

districts as (
    select
        '区县' as level, s.district_code as area_code, coalesce(max(d.district_name), s.district_code) as area_name,
        s.district_code, s.data_date,
        avg(s.so2_24h) as so2_24h, avg(s.no2_24h) as no2_24h, avg(s.pm10_24h) as pm10_24h,
        avg(s.pm25_24h) as pm25_24h, avg(s.co_24h) as co_24h, avg(s.o3_8h_max) as o3_8h_max,
        avg(s.o3_1h_max) as o3_1h_max, count(*) as station_count
    from {{ ref('int_air_station_daily') }} as s
    left join {{ ref('stg_reference__district') }} as d on d.district_code = s.district_code
    group by s.district_code, s.data_date
),

areas as (
    select * from stations
    union all
    select * from districts
),

concentrations as (
    select level, area_code, data_date, 'so2' as pollutant, '24h' as averaging, so2_24h as value from areas
    union all select level, area_code, data_date, 'no2', '24h', no2_24h from areas
    union all select level, area_code, data_date, 'pm10', '24h', pm10_24h from areas
    union all select level, area_code, data_date, 'pm25', '24h', pm25_24h from areas
    union all select level, area_code, data_date, 'co', '24h', co_24h from areas
    -- O3: the 8-hour value, or the 1-hour value when the 8-hour one is beyond the table (over 800)
    union all
    select level, area_code, data_date, 'o3',
           case when o3_8h_max > 800 then '1h' else '8h' end,
           case when o3_8h_max > 800 then o3_1h_max else o3_8h_max end
    from areas
),

iaqi as (
    select
        c.level,
        c.area_code,
        c.data_date,
        c.pollutant,
        c.value,
        case
            when c.value is null then null
            when c.value >= top.bp_max then 500
            else ceil((b.iaqi_hi - b.iaqi_lo) / (b.bp_hi - b.bp_lo) * (c.value - b.bp_lo) + b.iaqi_lo)
        end as iaqi
    from concentrations as c
    left join {{ ref('aqi_breakpoints') }} as b
        on b.pollutant = c.pollutant and b.averaging = c.averaging
        and c.value >= b.bp_lo and c.value < b.bp_hi
    left join (
        select pollutant, averaging, max(bp_hi) as bp_max from {{ ref('aqi_breakpoints') }} group by 1, 2
    ) as top on top.pollutant = c.pollutant and top.averaging = c.averaging
),

aqi as (
    select
        level,
        area_code,
        data_date,
        max(iaqi) as aqi,
        max(case when pollutant = 'so2' then iaqi end) as iaqi_so2,
        max(case when pollutant = 'no2' then iaqi end) as iaqi_no2,
        max(case when pollutant = 'pm10' then iaqi end) as iaqi_pm10,
        max(case when pollutant = 'pm25' then iaqi end) as iaqi_pm25,
        max(case when pollutant = 'co' then iaqi end) as iaqi_co,
        max(case when pollutant = 'o3' then iaqi end) as iaqi_o3,
        count(iaqi) as pollutants_rated
    from iaqi
    group by level, area_code, data_date
),

primary_pollutants as (
    select
        i.level, i.area_code, i.data_date,
        {{ string_agg_ordered("case i.pollutant when 'pm25' then 'PM2.5' when 'pm10' then 'PM10' when 'so2' then 'SO2'
                                when 'no2' then 'NO2' when 'co' then 'CO' else 'O3' end", ',') }} as primary_pollutant
    from iaqi as i
    inner join aqi as a
        on a.level = i.level and a.area_code = i.area_code and a.data_date = i.data_date and i.iaqi = a.aqi
    where a.aqi > 50
    group by i.level, i.area_code, i.data_date
)

select
    {{ hash_key(['a.level', 'a.area_code', 'a.data_date']) }} as air_day_id,
    a.level,
    a.area_code,
    ar.area_name,
    ar.district_code,
    a.data_date,
    ar.station_count,
    ar.so2_24h, ar.no2_24h, ar.pm10_24h, ar.pm25_24h, ar.co_24h, ar.o3_8h_max, ar.o3_1h_max,
    a.iaqi_so2, a.iaqi_no2, a.iaqi_pm10, a.iaqi_pm25, a.iaqi_co, a.iaqi_o3,
    a.aqi,
    p.primary_pollutant,
    cat.category,
    cat.category_level,
    a.pollutants_rated = 6 as is_complete
from aqi as a
inner join areas as ar on ar.level = a.level and ar.area_code = a.area_code and ar.data_date = a.data_date
left join primary_pollutants as p
    on p.level = a.level and p.area_code = a.area_code and p.data_date = a.data_date
left join {{ ref('aqi_categories') }} as cat on a.aqi between cat.aqi_lo and cat.aqi_hi
where a.aqi is not null
