-- Every mention of an enterprise in every feed: who it says it is (code, name, district) and where.
{%- set manifest_parties = [
    ('移出人', 'generator', 'generator_district_code'),
    ('接受人', 'receiver', 'cast(null as ' ~ dbt.type_string() ~ ')'),
    ('承运人', 'transporter', 'cast(null as ' ~ dbt.type_string() ~ ')'),
] %}
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

manifest_parties as (
    {%- for role, party, district in manifest_parties %}
    select
        'waste_manifest', '危废联单', '{{ role }}', manifest_no,
        {{ party }}_credit_code, {{ party }}_credit_code_is_valid, {{ party }}_name, {{ party }}_name_normalised,
        {{ district }}, record_origin
    from {{ ref('int_manifest_current') }}
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}
),

licence_holders as (
    select
        'disposal_licence', '危废经营许可', '持证单位', licence_no,
        holder_credit_code, holder_credit_code_is_valid, holder_name, holder_name_normalised,
        cast(null as {{ dbt.type_string() }}), 'raw'
    from {{ ref('stg_permits__disposal_licence') }}
),

unioned as (
    select * from permits
    union all select * from ratings
    union all select * from manifest_parties
    union all select * from licence_holders
)

select
    {{ hash_key(['source_dataset', 'role', 'record_key']) }} as record_id,
    *
from unioned
