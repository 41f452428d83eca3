-- Each complaint as the 12369 platform shows it now, with personal data taken out of its text.
with

versions as (
    select
        *,
        row_number() over (partition by complaint_id order by updated_at desc, ingested_at desc) as version_rank
    from {{ ref('stg_complaints__complaint') }}
)

select
    complaint_id,
    reported_at,
    reported_date,
    district_code,
    category,
    {{ redact_personal_data('description', 'complainant_name') }} as description_redacted,
    target_name,
    target_name_normalised,
    status,
    updated_at
from versions
where version_rank = 1
