-- Turnstile exports have no key and two exports may overlap. A swipe repeated inside one file
-- can be real (a card swiped twice in the same second), so each distinct swipe is counted per
-- load and kept, across loads, as many times as the load that saw it most often. Each gate is
-- placed at its site by the gate_devices seed; a gate the seed does not know keeps a null site
-- (its swipes are counted nowhere, and the landing checks report it).
with

passages as (

    select * from {{ ref('stg_gate__passages') }}

),

turnstiles as (

    select * from {{ ref('gate_devices') }}
    where device_kind = 'turnstile'

),

numbered as (

    select
        passages.*,
        row_number() over (
            partition by batch_id, card_key, gate_id, direction, result, passed_at
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
        deduplicated.source_file,
        deduplicated.source_line
    from deduplicated
    left join turnstiles
        on deduplicated.gate_id = turnstiles.device_id

)

select * from final
