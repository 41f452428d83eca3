with

source as (
    select * from {{ source('permits', 'disposal_licence') }}
),

renamed as (
    select
        ---------- ids
        licence_no,
        {{ normalise_credit_code('holder_credit_code') }} as holder_credit_code,
        {{ uscc_is_valid(normalise_credit_code('holder_credit_code')) }} as holder_credit_code_is_valid,

        ---------- licence
        trim(holder_name) as holder_name,
        {{ normalise_enterprise_name('holder_name') }} as holder_name_normalised,
        licence_type,
        categories,
        string_split(categories, ',') as category_list,
        cast(annual_capacity_tonnes as double) as annual_capacity_t,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,

        ---------- lineage
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
