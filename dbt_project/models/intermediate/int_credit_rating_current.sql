-- Each rating as it stands now (a rating is revised in place when repaired).
with

versions as (
    select
        *,
        row_number() over (partition by rating_id order by updated_at desc, ingested_at desc) as version_rank
    from {{ ref('stg_credit__rating') }}
)

select {{ star_except(["version_rank"]) }}
from versions
where version_rank = 1
