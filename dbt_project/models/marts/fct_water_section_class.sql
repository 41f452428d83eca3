/*
  GB 3838-2002 class of each surface-water section per month: each item's monthly mean is classed against
  seeds/water_class_limits.csv (dissolved oxygen must be at least the limit, the others at most; total
  phosphorus has lake limits; total nitrogen is rated for lakes only), and the section takes the worst
  item's class. Beyond class V is 劣V; a monthly pH outside 6-9 also makes it 劣V.
*/
with

readings as (
    {{ newest_version(ref('stg_stations__water_reading'), ['section_code', 'data_time'], 'updated_at desc, ingested_at desc') }}
),

monthly as (
    select
        section_code,
        max(section_name) as section_name,
        max(water_body) as water_body,
        max(water_body_type) as water_body_type,
        max(target_class) as target_class,
        max(district_code) as district_code,
        cast(date_trunc('month', data_date) as date) as month,
        count(*) as readings,
        avg(ph) as ph,
        avg(dissolved_oxygen) as dissolved_oxygen,
        avg(codmn) as codmn,
        avg(cod) as cod,
        avg(nh3n) as nh3n,
        avg(tp) as tp,
        avg(tn) as tn
    from readings
    group by section_code, cast(date_trunc('month', data_date) as date)
),

items as (
    select section_code, month, water_body_type, 'dissolved_oxygen' as item, dissolved_oxygen as value from monthly
    union all select section_code, month, water_body_type, 'codmn', codmn from monthly
    union all select section_code, month, water_body_type, 'cod', cod from monthly
    union all select section_code, month, water_body_type, 'nh3n', nh3n from monthly
    union all select section_code, month, water_body_type, 'tp', tp from monthly
    union all select section_code, month, water_body_type, 'tn', tn from monthly
),

item_class as (
    select
        i.section_code,
        i.month,
        i.item,
        i.value,
        case
            when l.direction = 'min' then
                case when i.value >= l.class_1 then 1 when i.value >= l.class_2 then 2 when i.value >= l.class_3 then 3
                     when i.value >= l.class_4 then 4 when i.value >= l.class_5 then 5 else 6 end
            else
                case when i.value <= l.class_1 then 1 when i.value <= l.class_2 then 2 when i.value <= l.class_3 then 3
                     when i.value <= l.class_4 then 4 when i.value <= l.class_5 then 5 else 6 end
        end as class_rank
    from items as i
    inner join {{ ref('water_class_limits') }} as l
        on l.item = i.item and l.water_body_type = i.water_body_type
    where i.value is not null
),

worst as (
    select
        section_code,
        month,
        max(class_rank) as class_rank,
        {{ string_agg_ordered('item', ',') }} as items_rated
    from item_class
    group by section_code, month
),

worst_items as (
    select c.section_code, c.month, {{ string_agg_ordered('c.item', ',') }} as determining_items
    from item_class as c
    inner join worst as w on w.section_code = c.section_code and w.month = c.month and w.class_rank = c.class_rank
    where c.class_rank > 1
    group by c.section_code, c.month
)

select
    {{ hash_key(['m.section_code', 'm.month']) }} as section_month_id,
    m.section_code,
    m.section_name,
    m.water_body,
    m.water_body_type,
    m.district_code,
    m.month,
    m.readings,
    m.ph, m.dissolved_oxygen, m.codmn, m.cod, m.nh3n, m.tp, m.tn,
    case when m.ph < 6 or m.ph > 9 then 6 else w.class_rank end as class_rank,
    case case when m.ph < 6 or m.ph > 9 then 6 else w.class_rank end
        when 1 then 'I' when 2 then 'II' when 3 then 'III' when 4 then 'IV' when 5 then 'V' else '劣V'
    end as water_class,
    case when m.ph < 6 or m.ph > 9 then 'ph' else wi.determining_items end as determining_items,
    m.target_class,
    case m.target_class when 'I' then 1 when 'II' then 2 when 'III' then 3 when 'IV' then 4 when 'V' then 5 end
        as target_class_rank,
    (case when m.ph < 6 or m.ph > 9 then 6 else w.class_rank end)
        <= case m.target_class when 'I' then 1 when 'II' then 2 when 'III' then 3 when 'IV' then 4 when 'V' then 5 end
        as meets_target
from monthly as m
inner join worst as w on w.section_code = m.section_code and w.month = m.month
left join worst_items as wi on wi.section_code = m.section_code and wi.month = m.month
