-- One row per manifest and anomaly found on it (long form of fct_waste_transfer's flags, for counting).
with

flags as (
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           'quantity_mismatch' as anomaly, '接收量偏差超限' as anomaly_zh, quantity_mismatch as flagged
    from {{ ref('fct_waste_transfer') }}
    union all
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           'receiver_not_licensed', '接受人无有效许可', receiver_not_licensed
    from {{ ref('fct_waste_transfer') }}
    union all
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           'confirmation_overdue', '超期未确认', confirmation_overdue
    from {{ ref('fct_waste_transfer') }}
    union all
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           'receipt_before_shipment', '接收早于起运', receipt_before_shipment
    from {{ ref('fct_waste_transfer') }}
    union all
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           'generator_unknown', '移出人未在册', generator_unknown
    from {{ ref('fct_waste_transfer') }}
    union all
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           'receiver_unknown', '接受人未在册', receiver_unknown
    from {{ ref('fct_waste_transfer') }}
)

select
    {{ hash_key(['manifest_no', 'anomaly']) }} as manifest_anomaly_id,
    manifest_no,
    anomaly,
    max(anomaly_zh) as anomaly_zh,
    max(created_date) as created_date,
    max(generator_enterprise_key) as generator_enterprise_key,
    max(generator_district_code) as district_code,
    count(*) as lines_flagged
from flags
where flagged
group by manifest_no, anomaly
