{#- Hourly (2061) and daily (2031) packets share one shape: the same staging for both. -#}
{% macro monitoring_staging(table) %}
with

source as (
    select * from {{ source('monitoring', table) }}
),

renamed as (
    select
        ---------- ids
        mn,
        -- The logger id is the permit holder's code, the permit's site serial and the outlet number without its D.
        substr(mn, 1, 18) as permit_holder_code,
        substr(mn, 19, 2) as site_serial,
        'D' || substr(mn, 21) as outlet_code,
        cn as command_code,
        st as system_code,
        qn as request_no,
        pollutant_code,
        case when code_sent is not null and code_sent <> pollutant_code then '2005' else '2017' end
            as code_edition_sent,
        code_sent,

        ---------- readings
        cast(min_value as double) as min_value,
        cast(avg_value as double) as avg_value,
        cast(max_value as double) as max_value,
        cast(rtd as double) as realtime_value,
        cast(cou as double) as cumulative_value,
        upper(flag) as data_flag,
        upper(flag) = 'N' as is_valid_reading,
        packet_flag,

        ---------- timestamps and lineage
        cast(data_time as timestamp) as data_time,
        cast(data_time as date) as data_date,
        cast(_ingested_at as timestamp) as ingested_at

    from source
)

select * from renamed
{% endmacro %}
