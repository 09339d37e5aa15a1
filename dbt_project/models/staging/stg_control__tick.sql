{{ config(tags=['tick']) }}

with tick_context as (
    select * from {{ source('control', 'tick_context') }}
),

final as (
    select
        tick_at,
        watermark,
        previous_tick_at,
    from tick_context
)

select * from final
