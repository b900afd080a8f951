-- Turnstile exports have no key and two exports may overlap. A swipe repeated inside one file
-- can be real (a card swiped twice in the same second), so each distinct swipe is counted per
-- load and kept, across loads, as many times as the load that saw it most often. Each gate is
-- placed at its site by the gate_devices seed; a gate the seed does not know keeps a null site
-- (its swipes are counted nowhere, and the landing checks report it).
--
-- Incremental (macros/incremental.sql, chain gate step 1), keyed on passage_key (delete+insert):
-- a build takes the swipes of the batches it has not taken in, whatever their time (a late file),
-- and recomputes every copy, in every batch, of each distinct swipe they hold. A swipe's rows
-- depend only on its own copies, so the result is the full rebuild's: a new batch may add
-- occurrences or become the kept copy of an occurrence (its passage_key stays), never remove one.
-- A batch whose swipes all lose to earlier copies keeps no row and is not recorded; later builds
-- look at it again, to the same result. A batch that replaced rows (a grown file's last line), a
-- batch gone from the load log or a changed gate_devices seed rebuild the chain from scratch.
--
-- One sort (issue #14): the occurrences are numbered in the order the copies are then chosen in
-- (swipe, batch, line), so choosing a copy per occurrence only re-sorts each swipe's few rows.
-- The kept copy's file is its batch's, in raw.load_log: the path is not repeated on every row.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='passage_key',
        on_schema_change='fail',
        unlogged=True,
        indexes=[
            {'columns': ['passage_key'], 'unique': True},
            {'columns': ['batch_id']},
            {'columns': ['card_key', 'site_code', 'passed_at']},
        ],
        pre_hook=[
            "{{ incremental_prepare('gate', 1, 'gate_passages', gate_passages_fingerprint()) }}",
            "{{ build_memory() }}",
        ],
        post_hook=[
            "{{ incremental_record('gate', 1, 'gate_passages', gate_passages_fingerprint()) }}",
            "{{ enforce_columns(not_null=[
                'passage_key', 'gate_id', 'direction', 'result', 'passed_at', 'batch_id', 'source_line',
            ]) }}",
        ],
    )
}}

with

{% if is_incremental() %}

    new_swipes as (

        select distinct
            coalesce(card_key, '') as card_key,
            gate_id,
            direction,
            result,
            passed_at
        from {{ ref('stg_gate__passages') }}
        where batch_id in ({{ incremental_new_batches(1, 'gate_passages') }})

    ),

    -- every copy, in any batch, of a swipe the new batches hold
    passages as (

        select
            passages.card_key,
            passages.gate_id,
            passages.direction,
            passages.result,
            passages.passed_at,
            passages.batch_id,
            passages.source_line
        from {{ ref('stg_gate__passages') }} as passages
        inner join new_swipes
            on
                coalesce(passages.card_key, '') = new_swipes.card_key
                and passages.gate_id = new_swipes.gate_id
                and passages.direction = new_swipes.direction
                and passages.result = new_swipes.result
                and passages.passed_at = new_swipes.passed_at

    ),

{% else %}

    passages as (

        select
            card_key,
            gate_id,
            direction,
            result,
            passed_at,
            batch_id,
            source_line
        from {{ ref('stg_gate__passages') }}

    ),

{% endif %}

turnstiles as (

    select * from {{ ref('gate_devices') }}
    where device_kind = 'turnstile'

),

numbered as (

    select
        passages.*,
        row_number() over (
            partition by card_key, gate_id, direction, result, passed_at, batch_id
            order by source_line
        ) as occurrence
    from passages

),

deduplicated as (

    select distinct on (card_key, gate_id, direction, result, passed_at, occurrence) *
    from numbered
    order by card_key, gate_id, direction, result, passed_at, occurrence, batch_id, source_line

),

final as (

    select
        md5(concat_ws(
            '|',
            coalesce(deduplicated.card_key, ''),
            deduplicated.gate_id,
            deduplicated.direction,
            deduplicated.result,
            {{ epoch_text('deduplicated.passed_at') }},
            deduplicated.occurrence::text
        )) as passage_key,
        deduplicated.card_key,
        deduplicated.gate_id,
        turnstiles.site_code,
        deduplicated.direction,
        deduplicated.result,
        deduplicated.passed_at,
        deduplicated.batch_id,
        deduplicated.source_line
    from deduplicated
    left join turnstiles
        on deduplicated.gate_id = turnstiles.device_id

)

select * from final
