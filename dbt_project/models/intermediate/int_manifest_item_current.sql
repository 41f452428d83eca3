-- Each manifest line at its manifest's latest status.
with

versions as (
    select
        *,
        row_number() over (
            partition by manifest_no, item_no
            order by case status when '已创建' then 1 when '运输中' then 2 when '已接收' then 3 else 4 end desc,
                     ingested_at desc
        ) as version_rank
    from {{ ref('stg_waste__manifest_item') }}
)

select {{ star_except(["version_rank"]) }}
from versions
where version_rank = 1
