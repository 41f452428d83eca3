-- The problem ledger (问题台账): one row per problem found by off-site supervision or reported by the public,
-- with where it stands in the loop (dispatched, rectified, closed, overdue) from the enforcement system's
-- case updates. Severity, due date and the department responsible come from seeds/problem_rules.csv.
with

exceedances as (
    select
        'exceedance' as source,
        event_id as source_key,
        enterprise_key,
        district_code,
        event_end as found_at,
        outlet_code || ' ' || pollutant_name || ' 连续超标 ' || cast(event_hours as {{ dbt.type_string() }}) || ' 小时，峰值 '
            || cast(round(peak_value, 2) as {{ dbt.type_string() }}) || concentration_unit || '（许可限值 '
            || cast(round(concentration_limit, 2) as {{ dbt.type_string() }}) || '，超标 '
            || cast(round(peak_exceedance_pct, 1) as {{ dbt.type_string() }}) || '%）' as evidence
    from {{ ref('fct_exceedance_event') }}
),

manifest_anomalies as (
    select
        'manifest_anomaly' as source,
        manifest_anomaly_id as source_key,
        generator_enterprise_key as enterprise_key,
        district_code,
        cast(created_date as timestamp) as found_at,
        '联单 ' || manifest_no || '：' || anomaly_zh as evidence
    from {{ ref('fct_manifest_anomaly') }}
),

silent_loggers as (
    select
        'silent_logger' as source,
        mn || '@' || {{ format_timestamp('last_data_time', 'yyyyMMddHH') }} as source_key,
        enterprise_key,
        district_code,
        {{ add_hours('last_data_time', var('silent_logger_hours')) }} as found_at,
        '数采仪 ' || mn || ' 自 ' || {{ format_timestamp('last_data_time', 'yyyy-MM-dd HH:00') }} || ' 起无小时数据，已中断 '
            || cast(round(silent_hours, 1) as {{ dbt.type_string() }}) || ' 小时' as evidence
    from {{ ref('int_problem_silent_loggers') }}
),

complaint_targets as (
    select
        complaints.*,
        enterprises.enterprise_key,
        row_number() over (partition by complaints.complaint_id order by enterprises.enterprise_key) as match_rank
    from {{ ref('int_complaint_current') }} as complaints
    left join {{ ref('dim_enterprise') }} as enterprises
        on {{ normalise_enterprise_name('enterprises.enterprise_name') }} = complaints.target_name_normalised
        and complaints.target_name_normalised is not null
),

complaints as (
    select
        'complaint' as source,
        complaint_id as source_key,
        enterprise_key,
        district_code,
        reported_at as found_at,
        category || '：' || description_redacted as evidence
    from complaint_targets
    where match_rank = 1
),

found as (
    select * from exceedances
    union all select * from manifest_anomalies
    union all select * from silent_loggers
    union all select * from complaints
),

ruled as (
    select
        'P' || left({{ hash_key(['found.source', 'found.source_key']) }}, 15) as problem_id,
        found.*,
        coalesce(enterprises.management_class = '重点管理', false) as is_key_management,
        enterprises.enterprise_name,
        districts.district_name,
        rules.severity,
        rules.due_days,
        case when rules.responsible_level = 'district' then districts.district_name || '生态环境分局'
             else rules.responsible_department end as responsible_department,
        {{ add_days('cast(found.found_at as date)', 'rules.due_days') }} as due_date
    from found
    left join {{ ref('dim_enterprise') }} as enterprises using (enterprise_key)
    left join {{ ref('stg_reference__district') }} as districts
        on districts.district_code = found.district_code and districts.is_current
    left join {{ ref('problem_rules') }} as rules
        on rules.source = found.source
        and rules.key_management = coalesce(enterprises.management_class = '重点管理', false)
),

updates as (
    select * from {{ ref('fct_problem_status_history') }}
),

loop_state as (
    select
        problem_id,
        max(case_id) as case_id,
        min(case when status = 'received' then updated_at end) as dispatched_at,
        max(case when status = 'closed' then updated_at end) as closed_at,
        max(case when status = 'reopened' then updated_at end) as last_reopened_at,
        count(case when status = 'reopened' then 1 end) as reopened_count,
        max_by(status, step_no) as current_status,
        max_by(status_zh, step_no) as current_status_zh,
        max(updated_at) as status_at
    from updates
    group by problem_id
),

-- The loop's "now": the marts' day, or the newest case update when the enforcement system is further on.
as_of as (
    select greatest(
        (select as_of_date from {{ ref('int_as_of') }}),
        coalesce((select cast(max(updated_at) as date) from updates), cast('1900-01-01' as date))
    ) as as_of_date
)

select
    ruled.problem_id,
    ruled.source,
    case ruled.source when 'exceedance' then '超标排放' when 'manifest_anomaly' then '联单异常'
         when 'silent_logger' then '监控数据中断' else '群众举报' end as source_zh,
    ruled.source_key,
    ruled.enterprise_key,
    ruled.enterprise_name,
    ruled.is_key_management,
    ruled.district_code,
    ruled.district_name,
    ruled.found_at,
    cast(ruled.found_at as date) as found_date,
    ruled.evidence,
    ruled.severity,
    ruled.responsible_department,
    ruled.due_days,
    ruled.due_date,
    loop_state.case_id,
    loop_state.dispatched_at,
    coalesce(loop_state.current_status, 'found') as current_status,
    coalesce(loop_state.current_status_zh, '待推送') as current_status_zh,
    loop_state.status_at,
    loop_state.current_status = 'closed' as is_closed,
    case when loop_state.current_status = 'closed' then loop_state.closed_at end as closed_at,
    coalesce(loop_state.reopened_count, 0) as reopened_count,
    case when loop_state.current_status = 'closed'
         then {{ days_between('ruled.found_at', 'loop_state.closed_at') }} end as days_to_close,
    coalesce(loop_state.current_status = 'closed' and cast(loop_state.closed_at as date) <= ruled.due_date, false)
        as is_closed_on_time,
    case when loop_state.current_status = 'closed' then cast(loop_state.closed_at as date) > ruled.due_date
         else as_of.as_of_date > ruled.due_date end as is_overdue,
    as_of.as_of_date
from ruled
left join loop_state using (problem_id)
cross join as_of
