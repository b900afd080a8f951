-- usage_ranking before small-cell suppression: per term (seed academic_calendar), college and
-- ranking, the readers who opted in to rankings (and did not opt out of profiling) with a value
-- above zero, ranked; ranked_users counts them. A reader's college is the one they belonged to
-- in the last month of the term they were on the roster. Rankings:
--   study_hours  hours spent in the library (visits' dwell time)
--   loans        loans started in the term
--   breadth      distinct CLC top-level classes borrowed in the term
with

calendar as (

    select * from {{ ref('academic_calendar') }}
    where not is_vacation

),

period as (

    select * from {{ ref('int_persona_period') }}

),

user_months as (

    select * from {{ ref('int_persona_user_months') }}

),

loans as (

    select * from {{ ref('int_persona_loans') }}
    where user_key is not null

),

visits as (

    select * from {{ ref('int_persona_visits') }}
    where user_key is not null

),

terms as (

    select
        calendar.academic_year || ' ' || replace(calendar.period, '_term', '') as term,
        calendar.starts_on as term_start,
        calendar.ends_on as term_end
    from calendar
    cross join period
    where
        calendar.ends_on >= period.first_month
        and calendar.starts_on <= period.window_end_date

),

term_users as (

    select distinct on (terms.term, user_months.user_key)
        terms.term,
        terms.term_start,
        terms.term_end,
        user_months.user_key,
        user_months.college
    from terms
    inner join user_months
        on user_months.month between date_trunc('month', terms.term_start)::date and terms.term_end
    where
        user_months.consent_ranking
        and user_months.consent_profiling
    order by terms.term asc, user_months.user_key asc, user_months.month desc

),

term_loans as (

    select
        term_users.term,
        term_users.user_key,
        count(*) as loans,
        count(distinct loans.subject_class) as subject_classes
    from term_users
    inner join loans
        on
            term_users.user_key = loans.user_key
            and loans.loan_date between term_users.term_start and term_users.term_end
    group by term_users.term, term_users.user_key

),

term_visits as (

    select
        term_users.term,
        term_users.user_key,
        sum(visits.dwell_minutes) / 60.0 as study_hours
    from term_users
    inner join visits
        on
            term_users.user_key = visits.user_key
            and visits.visit_date between term_users.term_start and term_users.term_end
    group by term_users.term, term_users.user_key

),

values_by_ranking as (

    select
        term_users.term,
        term_users.term_start,
        term_users.term_end,
        term_users.college,
        term_users.user_key,
        rankings.ranking,
        rankings.value
    from term_users
    left join term_loans
        on
            term_users.term = term_loans.term
            and term_users.user_key = term_loans.user_key
    left join term_visits
        on
            term_users.term = term_visits.term
            and term_users.user_key = term_visits.user_key
    cross join
        lateral (
            values
            ('study_hours', coalesce(term_visits.study_hours, 0)),
            ('loans', coalesce(term_loans.loans, 0)),
            ('breadth', coalesce(term_loans.subject_classes, 0))
        ) as rankings (ranking, value)
    where rankings.value > 0

),

ranked as (

    select
        values_by_ranking.*,
        rank() over (
            partition by term, college, ranking
            order by value desc
        ) as rank,
        count(*) over (partition by term, college, ranking) as ranked_users
    from values_by_ranking

),

final as (

    select
        term,
        term_start,
        term_end,
        college,
        ranking,
        rank,
        user_key,
        round(value::numeric, 1) as value,
        ranked_users
    from ranked
    where rank <= {{ var('ranking_top_n', 10) }}

)

select * from final
