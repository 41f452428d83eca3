-- Each permit as it stands now: the newest version the bureau sent.
{{ newest_version(ref('stg_permits__permit'), ['permit_no'], 'updated_at desc, ingested_at desc') }}
