with

source as (
    select * from {{ source('waste', 'hw_code') }}
),

renamed as (
    select
        edition,
        cast(valid_from as date) as valid_from,
        waste_code,
        split_part(waste_code, '-', 1) as waste_code_industry,
        split_part(waste_code, '-', 2) as waste_code_sequence,
        waste_category,
        waste_name,
        hazard,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
