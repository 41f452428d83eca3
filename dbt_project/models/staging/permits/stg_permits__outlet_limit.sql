with

source as (
    select * from {{ source('permits', 'permit_outlet_limit') }}
),

renamed as (
    select
        ---------- ids
        permit_no,
        outlet_code,
        pollutant_code,

        ---------- outlet
        outlet_name,
        outlet_type,
        medium,
        pollutant_name,

        ---------- limits
        cast(concentration_limit as double) as concentration_limit,
        concentration_unit,
        cast(annual_permitted_quantity as double) as annual_permitted_quantity_t,
        emission_standard,

        ---------- timestamps and lineage
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
