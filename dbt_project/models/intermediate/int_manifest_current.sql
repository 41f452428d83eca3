-- Each manifest at its latest status.
{{ newest_version(ref('stg_waste__manifest'), ['manifest_no'], 'status_rank desc, ingested_at desc') }}
