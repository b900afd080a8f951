-- Adapter: library visits (gate passages paired into visits), one row per visit.
-- Wired to fct_visits when the gate source lands: replace the body with a select from
-- ref('fct_visits') that keeps these column names and types. Until then it is typed and empty,
-- so every persona mart reads zero visits instead of failing.
select
    cast(null as text) as user_key,
    cast(null as text) as site,
    cast(null as timestamptz) as entered_at,
    cast(null as timestamptz) as left_at,
    cast(null as integer) as dwell_minutes,
    cast(null as date) as visit_date
where false
