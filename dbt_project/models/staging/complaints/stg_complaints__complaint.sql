with

source as (
    select * from {{ source('complaints', 'complaint') }}
),

renamed as (
    select
        ---------- ids
        complaint_id,
        {{ district_code_columns('district_code') }},

        ---------- complaint
        location,
        category,
        description,
        trim(target_name) as target_name,
        {{ normalise_enterprise_name('target_name') }} as target_name_normalised,
        complainant_name,
        complainant_phone,
        status,

        ---------- timestamps and lineage
        cast(reported_at as timestamp) as reported_at,
        cast(reported_at as date) as reported_date,
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
