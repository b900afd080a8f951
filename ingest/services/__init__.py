"""The library's services as sources: space and seat bookings, information-literacy training,
consultations, feedback and surveys, volunteering. Five sources, one CSV format each, sharing the
reading in `csvinput` (UTF-8 or GB18030, a column mapping for exports with other headers).

Persons are the campus roster's person ids (student / staff numbers), pseudonymised with kind
`person`. Feedback comments are free text: they never land in raw; their length, language and
topics do (`comments`), and their text, with identifiers redacted (`ingest.redaction`), goes to
restricted.feedback_comments in the same load.
"""

from ingest.model import Format, Source
from ingest.services import parsers
from ingest.services.bookings_copy import bookings_copy
from ingest.services.csvinput import ENCODING, TIMEZONE, columns_option, landing_columns
from ingest.services.tables import (
    CONSULTATIONS,
    FEEDBACK_COMMENTS,
    FEEDBACK_RESPONSES,
    SPACE_BOOKINGS,
    TRAINING_REGISTRATIONS,
    VOLUNTEER_HOURS,
)

BOOKINGS_CSV = Format(
    source="spaces",
    name="bookings-csv",
    table=SPACE_BOOKINGS,
    parse=parsers.parse_bookings,
    description=(
        "Room and seat bookings: booking_id, person_id, space_id, space_type, space_area, start_time, "
        "end_time, status (checked_in, no_show, cancelled), booked_at"
    ),
    options=(ENCODING, TIMEZONE, columns_option("spaces")),
    landing=("services/spaces/**/*.csv",),
    landing_options=landing_columns,
    identifier_fields=("person_id",),
    copy_parser=bookings_copy,
)
TRAINING_CSV = Format(
    source="training",
    name="training-csv",
    table=TRAINING_REGISTRATIONS,
    parse=parsers.parse_training,
    description=(
        "Training sessions and registrations, one row per registration with the session's columns: "
        "session_id, series, topic, level, session_start, hours, capacity, person_id, registered_at, "
        "attended (a row without person_id lists a session with no registration)"
    ),
    options=(ENCODING, TIMEZONE, columns_option("training")),
    landing=("services/training/**/*.csv",),
    landing_options=landing_columns,
    identifier_fields=("person_id",),
)
CONSULTATIONS_CSV = Format(
    source="consultations",
    name="consultations-csv",
    table=CONSULTATIONS,
    parse=parsers.parse_consultations,
    description=(
        "Reference questions: consultation_id, channel (desk, chat, email, social_media, phone), topic, "
        "asked_at, answered_at, person_id (when known)"
    ),
    options=(ENCODING, TIMEZONE, columns_option("consultations")),
    landing=("services/consultations/**/*.csv",),
    landing_options=landing_columns,
    identifier_fields=("person_id",),
)
SURVEY_CSV = Format(
    source="feedback",
    name="survey-csv",
    table=FEEDBACK_RESPONSES,
    parse=parsers.parse_feedback,
    description=(
        "Survey and feedback answers, one row per response and question: response_id, survey, person_id, "
        "submitted_at, service_area, question, question_type (rating 1-5, nps 0-10, comment), score, "
        "comment, suggestion_status (accepted, declined, pending)"
    ),
    options=(ENCODING, TIMEZONE, columns_option("feedback")),
    landing=("services/feedback/**/*.csv",),
    landing_options=landing_columns,
    identifier_fields=("person_id",),
    extra_tables=(FEEDBACK_COMMENTS,),
    after_load=parsers.store_redacted_comments,
)
VOLUNTEER_CSV = Format(
    source="volunteering",
    name="volunteer-csv",
    table=VOLUNTEER_HOURS,
    parse=parsers.parse_volunteering,
    description="Volunteering records: record_id, person_id, activity, date, hours",
    options=(ENCODING, columns_option("volunteering")),
    landing=("services/volunteering/**/*.csv",),
    landing_options=landing_columns,
    identifier_fields=("person_id",),
)

SOURCES = [
    Source("spaces", "Study room and seat bookings.", (BOOKINGS_CSV,)),
    Source(
        "training", "Information-literacy training: sessions, registrations, attendance.", (TRAINING_CSV,)
    ),
    Source("consultations", "Questions asked of the librarians, by channel.", (CONSULTATIONS_CSV,)),
    Source(
        "feedback",
        "Satisfaction surveys and feedback: ratings, recommendation scores, comments.",
        (SURVEY_CSV,),
    ),
    Source("volunteering", "Hours volunteered at the library.", (VOLUNTEER_CSV,)),
]

SERVICE_SOURCES = tuple(source.name for source in SOURCES)
