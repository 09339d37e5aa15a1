with trading_calendar as (
    select * from {{ source('raw', 'trading_calendar') }}
),

final as (
    select
        cast(day as date) as day,
        cast(is_trading_day as boolean) as is_trading_day,
    from trading_calendar
)

select * from final
