-- Public complaints (12369环保举报) as they may be shared: category, district, the enterprise named, the
-- handling status, and the complainant's words with personal data taken out. Name and phone stay behind.
select
    complaints.complaint_id,
    complaints.reported_at,
    complaints.reported_date,
    complaints.district_code,
    districts.district_name,
    complaints.category,
    complaints.description_redacted,
    complaints.target_name,
    complaints.status,
    complaints.updated_at
from {{ ref('int_complaint_current') }} as complaints
left join {{ ref('stg_reference__district') }} as districts
    on districts.district_code = complaints.district_code and districts.is_current
