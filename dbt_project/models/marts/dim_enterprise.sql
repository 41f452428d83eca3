-- One row per enterprise across departments, keyed by its unified social credit code (or a provisional key).
with

resolved as (
    select * from {{ ref('int_enterprise_resolved') }}
),

permits as (
    select
        r.enterprise_key,
        count(*) as permit_count,
        count(*) filter (where p.status = '有效') as valid_permit_count,
        min(case p.management_class when '重点管理' then 1 when '简化管理' then 2 else 3 end) as class_rank,
        max_by(p.industry_code, p.updated_at) as industry_code,
        max_by(p.industry_name, p.updated_at) as industry_name,
        max_by(p.address, p.updated_at) as address,
        max_by(p.legal_representative, p.updated_at) as legal_representative,
        max_by(p.contact_phone, p.updated_at) as contact_phone
    from resolved as r
    inner join {{ ref('int_permit_current') }} as p on r.source_dataset = 'permit' and p.permit_no = r.record_key
    group by r.enterprise_key
),

grades as (
    select
        r.enterprise_key,
        max_by(c.grade, c.rating_date) as credit_grade,
        max(c.rating_date) as credit_rating_date
    from resolved as r
    inner join {{ ref('int_credit_rating_current') }} as c
        on r.source_dataset = 'credit_rating' and c.rating_id = r.record_key
    group by r.enterprise_key
),

names as (
    -- The name and district a permit gives win, then the credit rating's, then any other record's.
    select
        enterprise_key,
        min_by(enterprise_name, case source_dataset when 'permit' then 1 when 'credit_rating' then 2 else 3 end)
            as enterprise_name,
        min_by(district_code, case when district_code is null then 9
                                    when source_dataset = 'permit' then 1
                                    when source_dataset = 'credit_rating' then 2 else 3 end) as district_code,
        min(key_kind) as key_kind,
        min(match_confidence) as lowest_match_confidence,
        count(*) as record_count,
        count(distinct source_dataset) as source_count,
        {{ string_agg_ordered('source_name_zh', '、', distinct=true) }} as sources_zh,
        bool_or(source_dataset = 'permit') as has_permit,
        bool_or(source_dataset = 'credit_rating') as has_credit_rating,
        bool_or(source_dataset = 'disposal_licence') as is_licensed_receiver
    from resolved
    group by enterprise_key
)

select
    n.enterprise_key,
    case when n.key_kind = 'credit_code' then n.enterprise_key end as credit_code,
    n.key_kind,
    n.enterprise_name,
    n.district_code,
    d.district_name,
    p.industry_code,
    p.industry_name,
    p.address,
    p.legal_representative,
    p.contact_phone,
    case p.class_rank when 1 then '重点管理' when 2 then '简化管理' when 3 then '登记管理' end as management_class,
    coalesce(p.permit_count, 0) as permit_count,
    coalesce(p.valid_permit_count, 0) as valid_permit_count,
    g.credit_grade,
    g.credit_rating_date,
    n.record_count,
    n.source_count,
    n.sources_zh,
    n.has_permit,
    n.has_credit_rating,
    n.is_licensed_receiver,
    n.lowest_match_confidence
from names as n
left join permits as p on p.enterprise_key = n.enterprise_key
left join grades as g on g.enterprise_key = n.enterprise_key
left join {{ ref('stg_reference__district') }} as d on d.district_code = n.district_code
