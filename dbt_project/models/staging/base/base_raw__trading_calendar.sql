{#- Every raw calendar day, typed, with the reason it cannot be used (NULL when it can). -#}
with trading_calendar as (
    select * from {{ source('raw', 'trading_calendar') }}
),

typed as (
    select
        cast(day as date) as day,
        cast(is_trading_day as boolean) as is_trading_day
    from trading_calendar
),

final as (
    select
        *,
        coalesce(cast(day as string), '?') as row_key,
        case
            when day is null then 'day is missing'
            when is_trading_day is null then 'is_trading_day is missing'
        end as problem
    from typed
)

select * from final
