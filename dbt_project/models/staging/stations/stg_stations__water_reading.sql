with

source as (
    select * from {{ source('stations', 'water_section_reading') }}
),

renamed as (
    select
        ---------- ids
        section_code,
        section_name,
        water_body,
        water_body_type,
        target_class,
        {{ district_code_columns('district_code') }},

        ---------- concentrations (mg/L; pH dimensionless)
        cast(ph as double) as ph,
        cast({{ adapter.quote("do") }} as double) as dissolved_oxygen,
        cast(codmn as double) as codmn,
        cast(cod as double) as cod,
        cast(nh3n as double) as nh3n,
        cast(tp as double) as tp,
        cast(tn as double) as tn,

        ---------- timestamps and lineage
        cast(data_time as timestamp) as data_time,
        cast(data_time as date) as data_date,
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
