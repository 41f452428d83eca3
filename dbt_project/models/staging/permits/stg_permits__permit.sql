with

source as (
    {{ held_for_identity('permits', 'permit', ['credit_code']) }}
),

renamed as (
    select
        ---------- ids
        permit_no,
        {{ credit_code_columns('credit_code') }},
        substr(permit_no, 1, 18) as permit_holder_code,

        ---------- enterprise
        trim(enterprise_name) as enterprise_name,
        {{ normalise_enterprise_name('enterprise_name') }} as enterprise_name_normalised,
        {{ district_code_columns('district_code') }},
        address,
        industry_code,
        industry_name,

        ---------- permit
        management_class,
        issuing_authority,
        status,
        cast(issue_date as date) as issue_date,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,
        cast(longitude as double) as longitude,
        cast(latitude as double) as latitude,
        legal_representative,
        contact_phone,

        ---------- timestamps and lineage
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at,
        _run_id as run_id,
        record_origin

    from source
)

select * from renamed
