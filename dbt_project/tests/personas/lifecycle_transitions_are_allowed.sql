-- Only allowed transitions between a user's consecutive months (with 1 <= at-risk threshold <
-- lapsed threshold): nothing goes back to potential or new after any use; a reactivation
-- follows a lapsed month; a user lapses only from at_risk (or stays lapsed); a lapsed user
-- either stays lapsed or is reactivated. Returns the transitions that break these rules.
with

lifecycle as (

    select * from {{ ref('int_user_lifecycle_monthly') }}

)

select
    user_key,
    month,
    previous_stage,
    stage
from lifecycle
where previous_stage is not null
    and (
        (stage = 'potential' and previous_stage <> 'potential')
        or (stage = 'new' and previous_stage <> 'potential')
        or (stage = 'reactivated' and previous_stage <> 'lapsed')
        or (stage = 'lapsed' and previous_stage not in ('at_risk', 'lapsed'))
        or (previous_stage = 'potential' and stage not in ('potential', 'new'))
        or (previous_stage = 'lapsed' and stage not in ('lapsed', 'reactivated'))
        or (stage = 'at_risk' and previous_stage in ('potential', 'lapsed'))
    )
