-- Each manifest at its latest status.
with

versions as (
    select
        *,
        row_number() over (partition by manifest_no order by status_rank desc, ingested_at desc) as version_rank
    from {{ ref('stg_waste__manifest') }}
)

select {{ star_except(["version_rank"]) }}
from versions
where version_rank = 1
