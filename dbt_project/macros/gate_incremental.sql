{#- The gate chain's incremental rules (macros/incremental.sql keeps the batch records): chain
    'gate', step 1 int_gate_passages_deduplicated (upstream the landing table gate_passages), step
    2 int_visits_paired_from_gate_events. -#}

{#- Fingerprint of step 1: which turnstile is at which site. -#}
{% macro gate_passages_fingerprint() -%}
    (
        select md5(coalesce(string_agg(devices::text, '|' order by devices::text), ''))
        from {{ ref('gate_devices') }} as devices
        where devices.device_kind = 'turnstile'
    )
{%- endmacro %}

{#- Fingerprint of step 2: the pairing rules (vars), the library's clock and the sites' hours. -#}
{% macro gate_visits_fingerprint() -%}
    'max_visit_hours={{ var("gate_max_visit_hours", 12) }};double_swipe_seconds={{
        var("gate_double_swipe_seconds", 60) }};clock_skew_seconds={{
        var("gate_clock_skew_seconds", 120) }};timezone={{ var("library_timezone", "Asia/Shanghai") }};' || (
        select md5(coalesce(string_agg(sites::text, '|' order by sites::text), ''))
        from {{ ref('gate_sites') }} as sites
    )
{%- endmacro %}

{#- How far a swipe reaches in the pairing: an entry pairs with, or is closed by, a swipe at most
    gate_max_visit_hours later; an exit pairs with an entry at most gate_clock_skew_seconds later;
    a swipe collapses into one at most gate_double_swipe_seconds earlier. -#}
{% macro gate_pairing_reach() -%}
    (
        interval '{{ var("gate_max_visit_hours", 12) }} hours'
        + interval '{{ var("gate_clock_skew_seconds", 120) }} seconds'
        + interval '{{ var("gate_double_swipe_seconds", 60) }} seconds'
    )
{%- endmacro %}

{#- The (card, site) pairs that the new deduplicated swipes touch, and the moment from which their
    visits are recomputed: the earliest new swipe minus the reach (see
    int_visits_paired_from_gate_events for why nothing before it can change). -#}
{% macro gate_visits_recomputed() -%}
    select
        card_key,
        site_code,
        min(passed_at) - {{ gate_pairing_reach() }} as recompute_from
    from {{ ref('int_gate_passages_deduplicated') }}
    where
        batch_id in ({{ incremental_new_batches(2, 'int_gate_passages_deduplicated') }})
        and result = 'granted'
        and site_code is not null
        and card_key is not null
    group by card_key, site_code
{%- endmacro %}

{#- A visit's first swipe: its entry, or its exit when there is none or it was recorded first. -#}
{% macro gate_visit_start(relation) -%}
    least({{ relation }}.entered_at, {{ relation }}.exit_recorded_at)
{%- endmacro %}

{#- Pre-hook of int_visits_paired_from_gate_events: the visits it recomputes. -#}
{% macro gate_visits_delete_recomputed() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} as visits
    using ({{ gate_visits_recomputed() }}) as recomputed
    where
        visits.card_key = recomputed.card_key
        and visits.site_code = recomputed.site_code
        and {{ gate_visit_start('visits') }} >= recomputed.recompute_from
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}
