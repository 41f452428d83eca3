/*
  Hazardous-waste transfers: one row per manifest line at its latest status, with the manifest's parties
  resolved to enterprises and every anomaly flagged (var defaults in dbt_project.yml):
    - quantity_mismatch: received differs from shipped by more than `quantity_tolerance` (10%, as EPA uses);
    - receiver_not_licensed: no disposal licence with this number covers the line's HW category on the
      shipping date;
    - confirmation_overdue: received but not confirmed within `confirmation_overdue_days` (5) days;
    - receipt_before_shipment: received before it was shipped;
    - generator_unknown / receiver_unknown: the party is on no permit, credit rating or disposal licence.
*/
with

manifests as (
    select * from {{ ref('int_manifest_current') }}
),

items as (
    select * from {{ ref('int_manifest_item_current') }}
),

as_of as (
    select as_of_date from {{ ref('int_as_of') }}
),

parties as (
    select record_key, role, enterprise_key, match_method
    from {{ ref('int_enterprise_resolved') }}
    where source_dataset = 'waste_manifest'
),

known_enterprises as (
    select enterprise_key
    from {{ ref('dim_enterprise') }}
    where has_permit or has_credit_rating or is_licensed_receiver
),

licence_cover as (
    select
        i.manifest_no,
        i.item_no,
        bool_or(
            l.licence_no is not null
            and position(',' || i.waste_code_category || ',' in ',' || l.categories || ',') > 0
            and cast(coalesce(m.shipped_at, m.created_at) as date) between l.valid_from and l.valid_to
        ) as is_covered
    from items as i
    inner join manifests as m on m.manifest_no = i.manifest_no
    left join {{ ref('stg_permits__disposal_licence') }} as l on l.licence_no = m.receiver_licence_no
    group by i.manifest_no, i.item_no
),

lines as (
    select
        {{ hash_key(['i.manifest_no', 'i.item_no']) }} as transfer_line_id,
        m.manifest_no,
        i.item_no,
        m.status,
        m.created_at,
        m.shipped_at,
        m.received_at,
        m.confirmed_at,
        cast(m.created_at as date) as created_date,
        gen.enterprise_key as generator_enterprise_key,
        gen.match_method as generator_match_method,
        m.generator_name,
        m.generator_credit_code,
        m.generator_district_code,
        m.transporter_name,
        rec.enterprise_key as receiver_enterprise_key,
        m.receiver_name,
        m.receiver_licence_no,
        i.waste_code,
        i.waste_code_category,
        i.waste_name,
        i.hazard,
        i.physical_form,
        i.shipped_t,
        i.received_t,
        case when i.received_t is not null and i.shipped_t > 0
            then round((i.received_t - i.shipped_t) / i.shipped_t * 100, 2) end as quantity_difference_pct,
        coalesce(i.received_t is not null and i.shipped_t > 0
                 and abs(i.received_t - i.shipped_t) / i.shipped_t > {{ var('quantity_tolerance') }}, false)
            as quantity_mismatch,
        not coalesce(lc.is_covered, false) as receiver_not_licensed,
        coalesce(m.received_at is not null
                 and coalesce(m.confirmed_at, {{ add_hours('cast(a.as_of_date as timestamp)', 24) }})
                     > {{ add_hours('m.received_at', 24 * var('confirmation_overdue_days')) }}, false)
            as confirmation_overdue,
        coalesce(m.received_at < m.shipped_at, false) as receipt_before_shipment,
        kg.enterprise_key is null as generator_unknown,
        kr.enterprise_key is null as receiver_unknown
    from items as i
    inner join manifests as m on m.manifest_no = i.manifest_no
    cross join as_of as a
    left join licence_cover as lc on lc.manifest_no = i.manifest_no and lc.item_no = i.item_no
    left join parties as gen on gen.record_key = m.manifest_no and gen.role = '移出人'
    left join parties as rec on rec.record_key = m.manifest_no and rec.role = '接受人'
    left join known_enterprises as kg on kg.enterprise_key = gen.enterprise_key
    left join known_enterprises as kr on kr.enterprise_key = rec.enterprise_key
)

select
    *,
    quantity_mismatch or receiver_not_licensed or confirmation_overdue or receipt_before_shipment
        or generator_unknown or receiver_unknown as has_anomaly,
    concat_ws('；',
        case when quantity_mismatch then '接收量与移出量偏差超过' || cast(round({{ var('quantity_tolerance') }} * 100) as integer) || '%' end,
        case when receiver_not_licensed then '接受人无该类别有效经营许可' end,
        case when confirmation_overdue then '超期未确认' end,
        case when receipt_before_shipment then '接收时间早于起运时间' end,
        case when generator_unknown then '移出人未在册' end,
        case when receiver_unknown then '接受人未在册' end
    ) as anomaly_reasons
from lines
