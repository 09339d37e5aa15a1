{#- One row per day; a day listed twice is a trading day only if every row says so. -#}
with trading_calendar as (
    select * from {{ ref('base_raw__trading_calendar') }}
),

final as (
    select
        day,
        bool_and(is_trading_day) as is_trading_day
    from trading_calendar
    where problem is null
    group by day
)

select * from final
