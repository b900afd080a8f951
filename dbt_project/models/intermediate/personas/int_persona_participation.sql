-- Adapter: the library's services as its users take part in them, one row per event: space
-- bookings (with no-shows), training sessions attended, consultations, volunteer shifts and
-- feedback given.
-- Wired to fct_space_bookings, fct_training_attendance, fct_consultations, fct_volunteer_hours
-- and fct_feedback when the services source lands: union them here under these column names
-- and kinds. Until then it is typed and empty, so the marts read zero participation.
--   kind          booking | training | consultation | volunteering | feedback
--   channel       physical (at the library) | digital (online) | null (feedback: not a use)
--   is_no_show    bookings only: the user did not come
--   hours         volunteering hours (and, where known, the length of other events)
--   satisfaction  feedback only: the score given, 1 (poor) to 5 (excellent)
select
    cast(null as text) as user_key,
    cast(null as text) as kind,
    cast(null as text) as channel,
    cast(null as text) as site,
    cast(null as timestamptz) as event_at,
    cast(null as date) as event_date,
    cast(null as boolean) as is_no_show,
    cast(null as numeric) as hours,
    cast(null as numeric) as satisfaction
where false
