-- Loans with the two levels of the Chinese Library Classification that subject marts report:
-- the top-level class (fct_loans.subject_class, one letter) and the second-level class, the
-- call number's first two characters (TP computing, I2 Chinese literature, O1 mathematics).
with

loans as (

    select * from {{ ref('fct_loans') }}

),

items as (

    select * from {{ ref('int_items_latest') }}

),

final as (

    select
        loans.loan_key,
        loans.user_key,
        loans.ils,
        loans.item_id,
        loans.subject_class,
        (case
            when
                loans.subject_class is not null
                and upper(substr(ltrim(items.call_number), 2, 1)) ~ '^[A-Z0-9]$'
                then loans.subject_class || upper(substr(ltrim(items.call_number), 2, 1))
        end)::text as subject_subclass,
        loans.loaned_at,
        loans.due_at,
        loans.returned_at,
        loans.renewals,
        loans.loan_date,
        date_trunc('month', loans.loan_date)::date as loan_month
    from loans
    left join items
        on
            loans.ils = items.ils
            and loans.item_id = items.item_id

)

select * from final
