"""Landing tables of the library's services: space bookings, training, consultations, feedback
and volunteering. Persons are pseudonyms of their campus person id (kind `person`), so they
join intermediate.int_identity_links directly. No free text lands in raw: feedback comments are
reduced to derived fields here, and their redacted text goes to restricted.feedback_comments."""

from ingest.model import RawTable

SPACE_BOOKINGS = RawTable(
    name="space_bookings",
    description="One row per booking of a study room or a seat, as the booking system exported it.",
    columns=(
        ("booking_id", "text not null"),
        ("person_key", "text"),  # pseudonym of the booker's person id (kind person)
        ("space_id", "text not null"),  # the room or seat booked
        ("space_type", "text"),  # room | seat
        ("space_area", "text"),  # the room's or seat's area (floor, reading room, zone)
        ("starts_at", "timestamptz not null"),
        ("ends_at", "timestamptz not null"),
        ("status", "text not null"),  # checked_in | no_show | cancelled
        ("booked_at", "timestamptz"),
    ),
)

TRAINING_REGISTRATIONS = RawTable(
    name="training_registrations",
    description=(
        "Information-literacy training: one row per registration, the session's catalogue columns "
        "repeated on each; a row without a person lists a session nobody registered for."
    ),
    columns=(
        ("session_id", "text not null"),
        ("series", "text not null"),
        ("topic", "text"),
        ("level", "text"),  # beginner | intermediate | advanced (as the catalogue says)
        ("session_start", "timestamptz not null"),
        ("hours", "numeric"),  # credit hours of the session
        ("capacity", "integer"),
        ("person_key", "text"),  # pseudonym of the registrant's person id (kind person)
        ("registered_at", "timestamptz"),
        ("attended", "boolean"),  # null: attendance not (yet) recorded
    ),
)

CONSULTATIONS = RawTable(
    name="consultations",
    description="One row per question asked of the librarians (reference / enquiry statistics).",
    columns=(
        ("consultation_id", "text not null"),
        ("channel", "text not null"),  # desk | chat | email | social_media | phone
        ("topic", "text"),
        ("asked_at", "timestamptz not null"),
        ("answered_at", "timestamptz"),  # null: not answered (yet)
        ("person_key", "text"),  # pseudonym of the asker's person id, when known
    ),
)

FEEDBACK_RESPONSES = RawTable(
    name="feedback_responses",
    description=(
        "Survey and feedback answers, one row per response and question: a 1-5 rating or a 0-10 "
        "recommendation score, and what is derived from the free-text comment (never the text)."
    ),
    columns=(
        ("response_id", "text not null"),
        ("survey", "text"),
        ("person_key", "text"),  # pseudonym of the respondent's person id; null = anonymous
        ("submitted_at", "timestamptz not null"),
        ("service_area", "text"),
        ("question", "text not null"),
        ("question_type", "text not null"),  # rating (1-5) | nps (0-10) | comment
        ("score", "integer"),
        ("suggestion_status", "text"),  # accepted | declined | pending (the library's decision)
        ("comment_length", "integer"),  # characters; null when there is no comment
        ("comment_language", "text"),  # zh | en | mixed | other
        ("comment_topics", "text"),  # comma-separated topics from the keyword list
    ),
)

FEEDBACK_COMMENTS = RawTable(
    name="feedback_comments",
    schema="restricted",
    description=(
        "The comments of raw.feedback_responses with phone numbers, e-mail addresses, ID numbers "
        "and student / staff numbers redacted; same batch and line as their answer row. Restricted: "
        "for the staff who answer feedback, never for BI or exports."
    ),
    columns=(
        ("response_id", "text not null"),
        ("question", "text not null"),
        ("person_key", "text"),  # kept so that an erasure request reaches the comment too
        ("comment_redacted", "text not null"),
    ),
)

VOLUNTEER_HOURS = RawTable(
    name="volunteer_hours",
    description="One row per volunteering record: who, which activity, which day, how many hours.",
    columns=(
        ("record_id", "text"),  # the volunteering system's record id, when it gives one
        ("person_key", "text not null"),  # pseudonym of the volunteer's person id (kind person)
        ("activity", "text not null"),
        ("activity_date", "date not null"),
        ("hours", "numeric not null"),
    ),
)
