-- What snap_permit_status watches: each permit's status and validity now (plain timestamps for snapshots).
select
    permit_no,
    status,
    management_class,
    valid_from,
    valid_to,
    cast(updated_at as timestamp) as updated_at
from {{ ref('int_permit_current') }}
