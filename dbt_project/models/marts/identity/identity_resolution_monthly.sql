-- How well the activity sources' identifiers resolve to people, per source and month: an
-- identifier that resolves to nobody (not on any roster, ambiguous, used outside its validity)
-- is counted here, never dropped from the facts (their rows keep a null user_key).
with

identifiers as (

    select * from {{ ref('int_identifiers_monthly') }}

),

final as (

    select
        source::text as source,
        month::date as month,
        count(*)::integer as identifiers,
        count(*) filter (where not is_resolved)::integer as unresolved,
        round(count(*) filter (where not is_resolved)::numeric / count(*), 4)::numeric(5, 4)
        as share_unresolved
    from identifiers
    group by source, month

)

select
    source,
    month,
    identifiers,
    unresolved,
    share_unresolved
from final
