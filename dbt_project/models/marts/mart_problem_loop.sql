-- The loop's figures (闭环处置) per district and month of finding: problems found, dispatched, closed, closed
-- on time, overdue, reopened, and the median days from finding to closing. Every current district appears in
-- every month that has any problem, with zeros where it had none.
with

problems as (
    select *, {{ month_start('found_date') }} as found_month from {{ ref('fct_problem') }}
),

districts as (
    select district_code, district_name from {{ ref('stg_reference__district') }} where is_current
),

months as (
    select distinct found_month from problems
),

grid as (
    select districts.district_code, districts.district_name, months.found_month
    from districts cross join months
)

select
    {{ hash_key(['grid.district_code', 'grid.found_month']) }} as loop_key,
    grid.district_code,
    grid.district_name,
    grid.found_month,
    count(problems.problem_id) as problems_found,
    count(problems.dispatched_at) as problems_dispatched,
    count(case when problems.is_closed then 1 end) as problems_closed,
    count(case when problems.is_closed_on_time then 1 end) as closed_on_time,
    count(case when problems.is_overdue and not coalesce(problems.is_closed, false) then 1 end) as overdue_open,
    count(case when problems.is_overdue then 1 end) as overdue_total,
    count(case when problems.reopened_count > 0 then 1 end) as problems_reopened,
    median(problems.days_to_close) as median_days_to_close
from grid
left join problems
    on problems.district_code = grid.district_code and problems.found_month = grid.found_month
group by all
