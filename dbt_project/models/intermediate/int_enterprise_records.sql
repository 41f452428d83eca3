-- Every mention of an enterprise in every feed: who it says it is (code, name, district) and where.
with

permits as (
    select
        'permit' as source_dataset, '排污许可' as source_name_zh, '持证单位' as role, permit_no as record_key,
        credit_code, credit_code_is_valid, enterprise_name, enterprise_name_normalised, district_code,
        record_origin
    from {{ ref('int_permit_current') }}
),

ratings as (
    select
        'credit_rating', '信用评价', '被评价单位', rating_id,
        credit_code, credit_code_is_valid, enterprise_name, enterprise_name_normalised, district_code,
        record_origin
    from {{ ref('int_credit_rating_current') }}
),

generators as (
    select
        'waste_manifest', '危废联单', '移出人', manifest_no,
        generator_credit_code, generator_credit_code_is_valid, generator_name, generator_name_normalised,
        generator_district_code, record_origin
    from {{ ref('int_manifest_current') }}
),

receivers as (
    select
        'waste_manifest', '危废联单', '接受人', manifest_no,
        receiver_credit_code, receiver_credit_code_is_valid, receiver_name, receiver_name_normalised,
        cast(null as varchar), record_origin
    from {{ ref('int_manifest_current') }}
),

transporters as (
    select
        'waste_manifest', '危废联单', '承运人', manifest_no,
        transporter_credit_code, transporter_credit_code_is_valid, transporter_name, transporter_name_normalised,
        cast(null as varchar), record_origin
    from {{ ref('int_manifest_current') }}
),

licence_holders as (
    select
        'disposal_licence', '危废经营许可', '持证单位', licence_no,
        holder_credit_code, holder_credit_code_is_valid, holder_name, holder_name_normalised,
        cast(null as varchar), 'raw'
    from {{ ref('stg_permits__disposal_licence') }}
),

unioned as (
    select * from permits
    union all select * from ratings
    union all select * from generators
    union all select * from receivers
    union all select * from transporters
    union all select * from licence_holders
)

select
    {{ hash_key(['source_dataset', 'role', 'record_key']) }} as record_id,
    *
from unioned
