-- Each permit as it stands now: the newest version the bureau sent.
with

versions as (
    select
        *,
        row_number() over (partition by permit_no order by updated_at desc, ingested_at desc) as version_rank
    from {{ ref('stg_permits__permit') }}
)

select {{ star_except(["version_rank"]) }}
from versions
where version_rank = 1
