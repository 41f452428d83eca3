-- Each outlet's permitted concentration limit per pollutant now, with the logger id (MN) it reports under.
with

versions as (
    select
        *,
        row_number() over (
            partition by permit_no, outlet_code, pollutant_code order by updated_at desc, ingested_at desc
        ) as version_rank
    from {{ ref('stg_permits__outlet_limit') }}
)

select
    {{ star_except(["version_rank"]) }},
    -- MN: the holder's 18 characters, the last two digits of the site serial, the outlet number without its D
    substr(permit_no, 1, 18) || substr(permit_no, 20, 2) || substr(outlet_code, 2) as mn
from versions
where version_rank = 1
