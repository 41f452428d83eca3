-- One row per manifest and anomaly found on it (long form of fct_waste_transfer's flags, for counting).
{%- set anomalies = [
    ('quantity_mismatch', '接收量偏差超限'),
    ('receiver_not_licensed', '接受人无有效许可'),
    ('confirmation_overdue', '超期未确认'),
    ('receipt_before_shipment', '接收早于起运'),
    ('generator_unknown', '移出人未在册'),
    ('receiver_unknown', '接受人未在册'),
] %}
with

flags as (
    {%- for flag, label in anomalies %}
    select manifest_no, created_date, generator_enterprise_key, generator_district_code,
           '{{ flag }}' as anomaly, '{{ label }}' as anomaly_zh, {{ flag }} as flagged
    from {{ ref('fct_waste_transfer') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
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
