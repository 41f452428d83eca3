with

source as (
    select * from {{ source('permits', 'disposal_licence') }}
),

renamed as (
    select
        ---------- ids
        licence_no,
        {{ credit_code_columns('holder_credit_code') }},

        ---------- licence
        trim(holder_name) as holder_name,
        {{ normalise_enterprise_name('holder_name') }} as holder_name_normalised,
        licence_type,
        categories,
        {{ split_text('categories', ',') }} as category_list,
        cast(annual_capacity_tonnes as double) as annual_capacity_t,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,

        ---------- lineage
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
