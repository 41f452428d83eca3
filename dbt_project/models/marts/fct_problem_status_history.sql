-- Each step the enforcement system reported for a dispatched problem, in order (办理进展).
select
    update_id,
    case_id,
    problem_id,
    status,
    status_zh,
    note,
    updated_at,
    row_number() over (partition by problem_id order by updated_at, update_id) as step_no
from (
    select *, row_number() over (partition by update_id order by ingested_at desc) as version_rank
    from {{ ref('stg_enforcement__case_update') }}
)
where version_rank = 1
