-- The retired-district map in dbt_project.yml (used by staging) agrees with the district reference data.
with mapped as (
    {% for old, new in var('retired_district_successors').items() %}
    select '{{ old }}' as district_code, '{{ new }}' as successor_code
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)
select d.district_code, d.successor_code, m.successor_code as mapped_to
from {{ ref('stg_reference__district') }} as d
left join mapped as m on m.district_code = d.district_code
where not d.is_current and m.successor_code is distinct from d.successor_code
