-- Each outlet's permitted concentration limit per pollutant now, with the logger id (MN) it reports under.
with

current_limits as (
    {{ newest_version(ref('stg_permits__outlet_limit'), ['permit_no', 'outlet_code', 'pollutant_code'],
                      'updated_at desc, ingested_at desc') }}
)

select
    *,
    -- MN: the holder's 18 characters, the last two digits of the site serial, the outlet number without its D
    substr(permit_no, 1, 18) || substr(permit_no, 20, 2) || substr(outlet_code, 2) as mn
from current_limits
