/*
  The "double random" (双随机) draw for one month: each enterprise under supervision gets an inspection
  frequency per year from its credit grade and risk tier (seeds/inspection_frequency.csv); a month draws
  frequency / 12 of each stratum, at random but reproducibly: enterprises are ordered by a hash of the
  seed, the month and their key, and the first ceil(n x frequency / 12) are drawn. The same month and seed
  always give the same draw; another seed gives another.
*/
with

as_of as (
    select
        {% if var('inspection_month') %}
        cast('{{ var("inspection_month") }}-01' as date) as plan_month
        {% else %}
        cast(date_trunc('month', as_of_date) as date) as plan_month
        {% endif %}
    from {{ ref('int_as_of') }}
),

pool as (
    select
        r.enterprise_key, r.enterprise_name, r.district_code, r.district_name, r.management_class,
        r.credit_grade, r.risk_tier, r.risk_reasons, f.inspections_per_year, a.plan_month,
        {{ hash_key(["'" ~ var('inspection_seed') ~ "'", 'a.plan_month', 'r.enterprise_key']) }} as draw_hash
    from {{ ref('mart_enterprise_risk') }} as r
    cross join as_of as a
    inner join {{ ref('inspection_frequency') }} as f
        on f.credit_grade = r.credit_grade and f.risk_tier = r.risk_tier
),

ranked as (
    select
        *,
        row_number() over (partition by credit_grade, risk_tier order by draw_hash) as draw_order,
        count(*) over (partition by credit_grade, risk_tier) as stratum_size
    from pool
)

select
    {{ hash_key(['plan_month', 'enterprise_key']) }} as plan_line_id,
    plan_month,
    {{ var('inspection_seed') }} as draw_seed,
    enterprise_key,
    enterprise_name,
    district_code,
    district_name,
    management_class,
    credit_grade,
    risk_tier,
    risk_reasons,
    inspections_per_year,
    stratum_size,
    cast(ceil(stratum_size * least(inspections_per_year / 12.0, 1.0)) as integer) as stratum_draws,
    draw_order,
    draw_order <= ceil(stratum_size * least(inspections_per_year / 12.0, 1.0)) as is_drawn
from ranked
