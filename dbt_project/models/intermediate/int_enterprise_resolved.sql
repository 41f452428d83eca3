/*
  One enterprise key per record. A record with a valid credit code is keyed by it. A record whose code is
  missing or fails its checksum is linked by its normalised name and district to the one valid code that
  carries that name there, else by its name alone when only one valid code carries it anywhere. What is
  left is grouped by name and district under a provisional key ("NC" + hash), so records of an enterprise
  that has no valid code in any feed still land on one enterprise; those records are listed in
  int_enterprise_unmatched.
*/
with

records as (
    select * from {{ ref('int_enterprise_records') }}
),

anchored as (
    select * from records where credit_code_is_valid
),

by_name_district as (
    select enterprise_name_normalised, district_code, min(credit_code) as credit_code
    from anchored
    where district_code is not null
    group by enterprise_name_normalised, district_code
    having count(distinct credit_code) = 1
),

by_name as (
    select enterprise_name_normalised, min(credit_code) as credit_code
    from anchored
    group by enterprise_name_normalised
    having count(distinct credit_code) = 1
),

linked as (
    select
        r.*,
        case
            when r.credit_code_is_valid then r.credit_code
            when nd.credit_code is not null then nd.credit_code
            when n.credit_code is not null then n.credit_code
            else 'NC' || upper(substr({{ hash_key(['r.enterprise_name_normalised', 'r.district_code']) }}, 1, 16))
        end as enterprise_key,
        case
            when r.credit_code_is_valid then 'credit_code'
            when nd.credit_code is not null then 'name_district'
            when n.credit_code is not null then 'name'
            else 'name_district'
        end as match_method,
        case
            when r.credit_code_is_valid then 1.0
            when nd.credit_code is not null then 0.9
            when n.credit_code is not null then 0.7
            else 0.8
        end as match_confidence,
        case
            when r.credit_code_is_valid or nd.credit_code is not null or n.credit_code is not null then 'credit_code'
            else 'provisional'
        end as key_kind
    from records as r
    left join by_name_district as nd
        on not r.credit_code_is_valid
        and nd.enterprise_name_normalised = r.enterprise_name_normalised
        and nd.district_code = r.district_code
    left join by_name as n
        on not r.credit_code_is_valid
        and n.enterprise_name_normalised = r.enterprise_name_normalised
)

select
    record_id,
    enterprise_key,
    key_kind,
    match_method,
    match_confidence,
    source_dataset,
    source_name_zh,
    role,
    record_key,
    credit_code as credit_code_reported,
    credit_code_is_valid,
    enterprise_name,
    enterprise_name_normalised,
    district_code,
    record_origin
from linked
