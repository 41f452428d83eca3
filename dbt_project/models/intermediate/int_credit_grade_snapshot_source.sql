-- What snap_credit_grade watches: each enterprise's grade from its most recent rating.
select
    r.enterprise_key,
    max_by(c.rating_id, c.rating_date) as rating_id,
    max_by(c.grade, c.rating_date) as grade,
    max(c.rating_date) as rating_date,
    cast(max(c.updated_at) as timestamp) as updated_at
from {{ ref('int_credit_rating_current') }} as c
inner join {{ ref('int_enterprise_resolved') }} as r
    on r.source_dataset = 'credit_rating' and r.record_key = c.rating_id
group by r.enterprise_key
