{{ config(tags=['tick']) }}

with tick_context as (
    select * from {{ source('control', 'tick_context') }}
),

tick_log as (
    select * from {{ source('control', 'tick_log') }}
),

final as (
    select
        tick_context.tick_at,
        tick_context.watermark,
        tick_context.previous_tick_at,
        -- what the previous tick saw: this tick's events are the ones loaded after it
        previous.watermark as previous_watermark
    from tick_context
    -- the log is append-only: the previous tick's `finished` row (a tick's start row has the same watermark)
    left join tick_log as previous
        on previous.tick_at = tick_context.previous_tick_at and previous.finished_at is not null
)

select * from final
