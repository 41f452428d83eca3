-- Records that could not be tied to a valid credit code: kept under a provisional key, listed for follow-up.
select
    record_id,
    enterprise_key,
    source_dataset,
    source_name_zh,
    role,
    record_key,
    credit_code_reported,
    enterprise_name,
    district_code,
    case
        when credit_code_reported is null then '信用代码缺失，名称与区县未匹配到有效代码'
        else '信用代码校验失败，名称与区县未匹配到有效代码'
    end as reason
from {{ ref('int_enterprise_resolved') }}
where key_kind = 'provisional'
