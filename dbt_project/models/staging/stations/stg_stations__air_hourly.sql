with

source as (
    select * from {{ source('stations', 'air_station_hourly') }}
),

renamed as (
    select
        ---------- ids
        station_code,
        station_name,
        {{ district_code_columns('district_code') }},
        cast(longitude as double) as longitude,
        cast(latitude as double) as latitude,

        ---------- concentrations (μg/m³; CO in mg/m³)
        cast(pm25 as double) as pm25,
        cast(pm10 as double) as pm10,
        cast(so2 as double) as so2,
        cast(no2 as double) as no2,
        cast(o3 as double) as o3,
        cast(co as double) as co,

        ---------- timestamps and lineage
        cast(data_time as timestamp) as data_time,
        cast(data_time as date) as data_date,
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
