with

source as (
    select * from {{ source('waste', 'waste_manifest_item') }}
),

renamed as (
    select
        ---------- ids
        manifest_no,
        status,
        cast(item_no as integer) as item_no,

        ---------- waste code: industry (3) - sequence (3) - category (2), e.g. 900-249-08 is HW08
        waste_code,
        split_part(waste_code, '-', 1) as waste_code_industry,
        split_part(waste_code, '-', 2) as waste_code_sequence,
        'HW' || split_part(waste_code, '-', 3) as waste_code_category,
        waste_category,
        waste_name,
        hazard,
        physical_form,
        packaging,
        cast(package_count as integer) as package_count,

        ---------- quantities (t)
        cast(shipped_tonnes as double) as shipped_t,
        cast(received_tonnes as double) as received_t,
        disposal_method,

        ---------- lineage
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
