-- The study board: per term, college and ranking, the most engaged readers among those who
-- opted in to rankings. A board with fewer than k ranked readers (var k_anonymity) is shown as
-- one blank row saying so (macro suppress_small_cells), not as a short list.
with

cells as (

    select * from {{ ref('int_usage_ranking_cells') }}

),

protected as (

    {{ suppress_small_cells(
        'cells',
        columns=[
            'term', 'term_start', 'term_end', 'college', 'ranking',
            'rank', 'user_key', 'value', 'ranked_users'
        ],
        users_columns=['ranked_users'],
        row_id="json_build_array(term, college, ranking, user_key)::text",
        measures={'rank': ['ranked_users'], 'user_key': ['ranked_users'], 'value': ['ranked_users']}
    ) }}
),

-- a suppressed board keeps one row: as many blank rows as readers would tell how many there are
boards as (

    select distinct on (term, college, ranking, coalesce(user_key, '')) protected.*
    from protected
    order by term, college, ranking, coalesce(user_key, '')

),

final as (

    select
        boards.term::text as term,
        boards.term_start::date as term_start,
        boards.term_end::date as term_end,
        boards.college::text as college,
        boards.ranking::text as ranking,
        boards.rank::integer as rank,
        boards.user_key::text as user_key,
        boards.value::numeric(10, 1) as value,
        boards.ranked_users::bigint as ranked_users,
        boards.suppressed::text as suppressed
    from boards

)

select * from final
