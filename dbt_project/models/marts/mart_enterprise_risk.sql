/*
  Credit-graded, risk-based supervision (分级分类差别化管理): per enterprise, the current credit grade and,
  over the last `risk_window_days` days up to the as-of date, its exceedance events and the anomalies on
  manifests it sent; a risk tier (高/中/低) from the thresholds in dbt_project.yml, and the reasons.
*/
with

as_of as (
    select as_of_date, as_of_date - {{ var('risk_window_days') }} + 1 as window_start
    from {{ ref('int_as_of') }}
),

events as (
    select e.enterprise_key, count(*) as exceedance_events, sum(e.event_hours) as exceedance_hours,
           max(e.peak_exceedance_pct) as peak_exceedance_pct
    from {{ ref('fct_exceedance_event') }} as e
    cross join as_of as a
    where e.event_date between a.window_start and a.as_of_date
    group by e.enterprise_key
),

anomalies as (
    select a.generator_enterprise_key as enterprise_key, count(distinct a.manifest_no) as anomalous_manifests,
           count(*) as manifest_anomalies
    from {{ ref('fct_manifest_anomaly') }} as a
    cross join as_of as w
    where a.created_date between w.window_start and w.as_of_date
    group by a.generator_enterprise_key
),

scored as (
    select
        e.enterprise_key,
        e.enterprise_name,
        e.district_code,
        e.district_name,
        e.industry_name,
        e.management_class,
        coalesce(e.credit_grade, '未评价') as credit_grade,
        coalesce(ev.exceedance_events, 0) as exceedance_events_90d,
        coalesce(ev.exceedance_hours, 0) as exceedance_hours_90d,
        ev.peak_exceedance_pct,
        coalesce(an.anomalous_manifests, 0) as anomalous_manifests_90d,
        coalesce(an.manifest_anomalies, 0) as manifest_anomalies_90d,
        e.credit_grade in ('{{ var("risk_high_grades") | join("', '") }}') as grade_high,
        e.credit_grade in ('{{ var("risk_medium_grades") | join("', '") }}') as grade_medium
    from {{ ref('dim_enterprise') }} as e
    left join events as ev on ev.enterprise_key = e.enterprise_key
    left join anomalies as an on an.enterprise_key = e.enterprise_key
    where e.has_permit or e.has_credit_rating
)

select
    s.*,
    a.as_of_date,
    case
        when grade_high
            or exceedance_events_90d >= {{ var('risk_high_exceedance_events') }}
            or anomalous_manifests_90d >= {{ var('risk_high_manifest_anomalies') }} then '高'
        when grade_medium or exceedance_events_90d > 0 or anomalous_manifests_90d > 0 then '中'
        else '低'
    end as risk_tier,
    case
        when grade_high
            or exceedance_events_90d >= {{ var('risk_high_exceedance_events') }}
            or anomalous_manifests_90d >= {{ var('risk_high_manifest_anomalies') }} then 3
        when grade_medium or exceedance_events_90d > 0 or anomalous_manifests_90d > 0 then 2
        else 1
    end as risk_tier_rank,
    coalesce(nullif(concat_ws('；',
        case when grade_high or grade_medium then '信用等级' || credit_grade end,
        case when exceedance_events_90d > 0
            then '近{{ var("risk_window_days") }}天超标事件' || exceedance_events_90d || '起' end,
        case when anomalous_manifests_90d > 0
            then '近{{ var("risk_window_days") }}天异常联单' || anomalous_manifests_90d || '张' end
    ), ''), '无风险因素') as risk_reasons
from scored as s
cross join as_of as a
