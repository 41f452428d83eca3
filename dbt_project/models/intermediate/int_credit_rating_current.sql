-- Each rating as it stands now (a rating is revised in place when repaired).
{{ newest_version(ref('stg_credit__rating'), ['rating_id'], 'updated_at desc, ingested_at desc') }}
