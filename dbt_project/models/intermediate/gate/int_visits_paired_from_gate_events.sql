-- Visits from the granted swipes of each card at each site, in time order (an entry before an
-- exit at the same second):
-- 1. a swipe that follows a swipe of the same card, direction and site within
--    var gate_double_swipe_seconds (60) is a double swipe and collapses into the first;
-- 2. an entry and the card's next swipe at that site, when it is an exit, form a visit, provided
--    the exit comes within var gate_max_visit_hours (12) and, unless the site is open 24 hours,
--    before the site opens again after its next closing (overnight visits pair only in 24-hour
--    sites);
-- 3. an entry that pairs with no exit this way still pairs with the exit just before it when that
--    exit belongs to no visit and was recorded at most var gate_clock_skew_seconds (120) earlier
--    (the exit gate's clock runs behind): a visit of no measurable length (flag clock_skew);
-- 4. any other entry is closed at the site's next closing time, after var gate_max_visit_hours,
--    or at the card's next swipe there, whichever comes first (flag exit_imputed);
-- 5. any other exit is kept as a visit without an entry or a dwell time (flag entry_missing).
-- Every granted swipe left after step 1 is in exactly one visit; denied swipes are in none.
--
-- Incremental (macros/incremental.sql and gate_incremental.sql, chain gate step 2): for each
-- (card, site) that the deduplicated swipes of the new batches touch, with t the earliest of them,
-- the visits that begin (first swipe) at or after t - R are recomputed, R = gate_max_visit_hours
-- + gate_clock_skew_seconds + gate_double_swipe_seconds; the pre-hook deletes them and the model
-- appends them again. Nothing before t - R can change, a late file included: a new swipe changes
-- which swipes collapse only at or after t (rule 1 looks one swipe back), and it changes an earlier
-- swipe's visit only as that swipe's next swipe, which matters only within gate_max_visit_hours
-- (rules 2 and 4 bound pairs_until and closes_by by it), or through rule 3, an exit at most
-- gate_clock_skew_seconds before an entry whose next swipe changed. The recomputation reads the
-- swipes from t - 2R: a swipe at the edge of what it reads misses the swipes before it (its
-- double-swipe collapse, whether its exit was paired), an error that reaches at most R further
-- (rules 1, 2 then 3), before t - R. Pairing never looks past R, so the rules (vars) and the sites'
-- hours are the model's fingerprint: changing them rebuilds it.
-- Swipes only ever come in (step 1 removes none); a batch that replaced or lost rows rebuilds the
-- chain from scratch.
--
-- A swipe is in at most one visit: unique indexes on entry_passage_key and exit_passage_key (nulls
-- apart) refuse a build that would break it, as the unique tests did by rescanning every visit.
-- Entries and left-over exits come out of one pass over the classified swipes (issue #14: as two
-- selects unioned, the swipes were written to disk once and read twice).
{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='fail',
        unlogged=True,
        indexes=[
            {'columns': ['visit_key'], 'unique': True},
            {'columns': ['card_key', 'site_code', 'entered_at']},
            {'columns': ['entry_passage_key'], 'unique': True},
            {'columns': ['exit_passage_key'], 'unique': True},
        ],
        pre_hook=[
            "{{ incremental_prepare(
                'gate', 2, 'int_gate_passages_deduplicated', gate_visits_fingerprint()
            ) }}",
            "{{ gate_visits_delete_recomputed() }}",
            "{{ build_memory() }}",
        ],
        post_hook=[
            "{{ incremental_record(
                'gate', 2, 'int_gate_passages_deduplicated', gate_visits_fingerprint()
            ) }}",
            "{{ enforce_columns(not_null=[
                'visit_key', 'card_key', 'site_code', 'left_at', 'exit_imputed', 'entry_missing', 'clock_skew',
            ]) }}",
        ],
    )
}}
{% set max_visit = "interval '" ~ var("gate_max_visit_hours", 12) ~ " hours'" %}
{% set double_swipe = "interval '" ~ var("gate_double_swipe_seconds", 60) ~ " seconds'" %}
{% set clock_skew = "interval '" ~ var("gate_clock_skew_seconds", 120) ~ " seconds'" %}
with

{% if is_incremental() %}

    recomputed as (

        {{ gate_visits_recomputed() }}

    ),

    passages as (

        select deduplicated.*
        from {{ ref('int_gate_passages_deduplicated') }} as deduplicated
        inner join recomputed
            on
                deduplicated.card_key = recomputed.card_key
                and deduplicated.site_code = recomputed.site_code
                and deduplicated.passed_at >= recomputed.recompute_from - {{ gate_pairing_reach() }}
        where deduplicated.result = 'granted'

    ),

{% else %}

    passages as (

        select * from {{ ref('int_gate_passages_deduplicated') }}
        where
            result = 'granted'
            and site_code is not null
            and card_key is not null

    ),

{% endif %}

sites as (

    select * from {{ ref('gate_sites') }}

),

ordered as (

    select
        passage_key,
        card_key,
        site_code,
        gate_id,
        direction,
        passed_at,
        lag(direction) over card_at_site as previous_direction,
        lag(passed_at) over card_at_site as previous_passed_at
    from passages
    window card_at_site as (
        partition by card_key, site_code
        order by passed_at, direction, passage_key
    )

),

collapsed as (

    select
        ordered.passage_key,
        ordered.card_key,
        ordered.site_code,
        ordered.gate_id,
        ordered.direction,
        ordered.passed_at,
        sites.open_24h,
        -- the latest moment an exit may come and still close this swipe's visit (entries only)
        case
            when sites.open_24h then ordered.passed_at + {{ max_visit }}
            else least(
                ordered.passed_at + {{ max_visit }},
                {{ gate_next_local_time(
                    gate_next_local_time('ordered.passed_at', 'sites.closes_at'), 'sites.opens_at'
                ) }}
            )
        end as pairs_until,
        -- when a visit without an exit is closed
        case
            when sites.open_24h then ordered.passed_at + {{ max_visit }}
            else least(
                ordered.passed_at + {{ max_visit }},
                {{ gate_next_local_time('ordered.passed_at', 'sites.closes_at') }}
            )
        end as closes_by
    from ordered
    inner join sites
        on ordered.site_code = sites.site_code
    where
        ordered.previous_direction is null
        or ordered.direction <> ordered.previous_direction
        or ordered.passed_at - ordered.previous_passed_at > {{ double_swipe }}

),

sequenced as (

    select
        collapsed.*,
        lag(direction) over card_at_site as previous_direction,
        lag(passed_at) over card_at_site as previous_passed_at,
        lag(passage_key) over card_at_site as previous_passage_key,
        lag(gate_id) over card_at_site as previous_gate_id,
        lead(direction) over card_at_site as next_direction,
        lead(passed_at) over card_at_site as next_passed_at,
        lead(passage_key) over card_at_site as next_passage_key,
        lead(gate_id) over card_at_site as next_gate_id
    from collapsed
    window card_at_site as (
        partition by card_key, site_code
        order by passed_at, direction, passage_key
    )

),

-- rule 2: an entry whose next swipe is an exit in time
forward_pairs as (

    select
        sequenced.*,
        coalesce(
            direction = 'in'
            and next_direction = 'out'
            and next_passed_at <= pairs_until,
            false
        ) as pairs_forward
    from sequenced

),

paired_exits as (

    select
        forward_pairs.*,
        direction = 'out'
        and coalesce(lag(pairs_forward) over card_at_site, false) as paired_backward
    from forward_pairs
    window card_at_site as (
        partition by card_key, site_code
        order by passed_at, direction, passage_key
    )

),

-- rule 3: an unpaired entry just after an exit that belongs to no visit
skewed as (

    select
        paired_exits.*,
        coalesce(
            direction = 'in'
            and not pairs_forward
            and previous_direction = 'out'
            and not coalesce(lag(paired_backward) over card_at_site, false)
            and passed_at - previous_passed_at <= {{ clock_skew }},
            false
        ) as pairs_with_skewed_exit
    from paired_exits
    window card_at_site as (
        partition by card_key, site_code
        order by passed_at, direction, passage_key
    )

),

classified as (

    select
        skewed.*,
        direction = 'out'
        and coalesce(lead(pairs_with_skewed_exit) over card_at_site, false) as skewed_exit
    from skewed
    window card_at_site as (
        partition by card_key, site_code
        order by passed_at, direction, passage_key
    )

),

-- an entry is a visit; so is an exit that no entry took (rule 5)
visits as (

    select
        card_key,
        site_code,
        case when direction = 'in' then passage_key end as entry_passage_key,
        case
            when direction = 'out' then passage_key
            when pairs_forward then next_passage_key
            when pairs_with_skewed_exit then previous_passage_key
        end as exit_passage_key,
        case when direction = 'in' then gate_id end as entry_gate_id,
        case
            when direction = 'out' then gate_id
            when pairs_forward then next_gate_id
            when pairs_with_skewed_exit then previous_gate_id
        end as exit_gate_id,
        case when direction = 'in' then passed_at end as entered_at,
        case
            when direction = 'out' then passed_at
            when pairs_forward then next_passed_at
            when pairs_with_skewed_exit then previous_passed_at
        end as exit_recorded_at,
        case
            when direction = 'out' then passed_at
            when pairs_forward then next_passed_at
            when pairs_with_skewed_exit then passed_at
            else least(closes_by, coalesce(next_passed_at, closes_by))
        end as left_at,
        direction = 'in' and not pairs_forward and not pairs_with_skewed_exit as exit_imputed,
        direction = 'out' as entry_missing,
        direction = 'in' and pairs_with_skewed_exit as clock_skew
    from classified
    where
        direction = 'in'
        or (direction = 'out' and not paired_backward and not skewed_exit)

),

final as (

    select
        md5('visit|' || coalesce(entry_passage_key, exit_passage_key)) as visit_key,
        card_key,
        site_code,
        entry_passage_key,
        exit_passage_key,
        entry_gate_id,
        exit_gate_id,
        entered_at,
        exit_recorded_at,
        left_at,
        round((extract(epoch from (left_at - entered_at)) / 60.0)::numeric, 2) as dwell_minutes,
        exit_imputed,
        entry_missing,
        clock_skew
    from visits

)

{% if is_incremental() %}

    select final.*
    from final
    inner join recomputed
        on
            final.card_key = recomputed.card_key
            and final.site_code = recomputed.site_code
            and {{ gate_visit_start('final') }} >= recomputed.recompute_from

{% else %}

    select * from final

{% endif %}
