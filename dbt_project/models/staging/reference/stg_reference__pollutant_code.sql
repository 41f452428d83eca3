with

source as (
    select * from {{ source('reference', 'pollutant_code') }}
),

renamed as (
    select
        pollutant_code,
        code_2005,
        pollutant_name,
        category,
        concentration_unit,
        amount_unit,
        data_format,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
