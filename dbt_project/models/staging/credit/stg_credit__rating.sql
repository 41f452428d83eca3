with

source as (
    {{ held_for_identity('credit', 'credit_rating', ['credit_code']) }}
),

renamed as (
    select
        ---------- ids
        rating_id,
        {{ credit_code_columns('credit_code') }},

        ---------- enterprise
        trim(enterprise_name) as enterprise_name,
        {{ normalise_enterprise_name('enterprise_name') }} as enterprise_name_normalised,
        {{ district_code_columns('district_code') }},

        ---------- rating
        cast(rating_year as integer) as rating_year,
        grade,
        case grade when '绿色' then 1 when '蓝色' then 2 when '黄色' then 3 when '红色' then 4 end as grade_rank,
        cast(score as double) as score,
        evaluating_authority,
        repair_status,
        cast(rating_date as date) as rating_date,
        cast(valid_from as date) as valid_from,
        cast(valid_to as date) as valid_to,

        ---------- timestamps and lineage
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at,
        record_origin

    from source
)

select * from renamed
