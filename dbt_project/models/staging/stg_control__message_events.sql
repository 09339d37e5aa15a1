with message_events as (
    select * from {{ source('control', 'message_events') }}
),

final as (
    select
        message_id,
        status,
        status_at,
        detail
    from message_events
)

select * from final
