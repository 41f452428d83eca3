-- Each manifest line at its manifest's latest status.
{{ newest_version(ref('stg_waste__manifest_item'), ['manifest_no', 'item_no'],
                  "case status when '已创建' then 1 when '运输中' then 2 when '已接收' then 3 else 4 end desc,
                   ingested_at desc") }}
