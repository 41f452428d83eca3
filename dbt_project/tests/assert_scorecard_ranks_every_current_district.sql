-- The scorecard ranks exactly the current districts (13 since the 2021 adjustment), none twice, none missing.
with expected as (
    select district_code from {{ ref('stg_reference__district') }} where is_current
)
select coalesce(e.district_code, s.district_code) as district_code
from expected as e
full outer join {{ ref('mart_district_scorecard') }} as s on s.district_code = e.district_code
where e.district_code is null or s.district_code is null
