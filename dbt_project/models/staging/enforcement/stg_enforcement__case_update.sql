with

source as (
    select * from {{ source('enforcement', 'enforcement_case_update') }}
),

renamed as (
    select
        ---------- ids
        update_id,
        case_id,
        problem_id,

        ---------- the step
        status,
        status_zh,
        note,
        inspector_id,

        ---------- timestamps and lineage
        cast(updated_at as timestamp) as updated_at,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
