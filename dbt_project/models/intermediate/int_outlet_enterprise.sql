-- Each permitted outlet's logger (MN) and pollutant limit, with the permit and enterprise it belongs to.
select
    l.mn,
    l.permit_no,
    l.outlet_code,
    l.outlet_name,
    l.outlet_type,
    l.medium,
    l.pollutant_code,
    l.pollutant_name,
    l.concentration_limit,
    l.concentration_unit,
    p.enterprise_name,
    p.district_code,
    p.industry_code,
    p.industry_name,
    p.management_class,
    r.enterprise_key
from {{ ref('int_outlet_limit_current') }} as l
left join {{ ref('int_permit_current') }} as p on p.permit_no = l.permit_no
left join {{ ref('int_enterprise_resolved') }} as r
    on r.source_dataset = 'permit' and r.role = '持证单位' and r.record_key = l.permit_no
