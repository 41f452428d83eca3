with

source as (
    {{ held_for_identity('waste', 'waste_manifest',
                         ['generator_credit_code', 'transporter_credit_code', 'receiver_credit_code']) }}
),

renamed as (
    select
        ---------- ids
        manifest_no,
        status,
        case status when '已创建' then 1 when '运输中' then 2 when '已接收' then 3 when '已确认' then 4 end
            as status_rank,

        ---------- generator (移出人)
        trim(generator_name) as generator_name,
        {{ normalise_enterprise_name('generator_name') }} as generator_name_normalised,
        {{ credit_code_columns('generator_credit_code') }},
        {{ district_code_columns('generator_district_code') }},

        ---------- transporter (承运人)
        trim(transporter_name) as transporter_name,
        {{ normalise_enterprise_name('transporter_name') }} as transporter_name_normalised,
        {{ credit_code_columns('transporter_credit_code') }},
        vehicle_plate,
        driver_name,

        ---------- receiver (接受人)
        trim(receiver_name) as receiver_name,
        {{ normalise_enterprise_name('receiver_name') }} as receiver_name_normalised,
        {{ credit_code_columns('receiver_credit_code') }},
        receiver_licence_no,

        ---------- timestamps and lineage
        cast(created_at as timestamp) as created_at,
        cast(shipped_at as timestamp) as shipped_at,
        cast(received_at as timestamp) as received_at,
        cast(confirmed_at as timestamp) as confirmed_at,
        cast(_ingested_at as timestamp) as ingested_at,
        record_origin

    from source
)

select * from renamed
