with

source as (
    select * from {{ source('reference', 'district') }}
),

renamed as (
    select
        district_code,
        district_name,
        cast(is_current as boolean) as is_current,
        successor_code,
        cast(valid_until as date) as valid_until,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
