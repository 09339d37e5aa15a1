{#- The outbox: one row per message. status: the latest outcome the senders recorded, else `queued`, or
    `suppressed` when the tick itself suppressed it (blacklist, quiet hours with drop; see suppressed_by). -#}
{{ config(meta={'dagster': {'group': 'outbox'}}) }}

with records as (
    select * from {{ ref('int_journey_records') }}
),

message_events as (
    select * from {{ ref('stg_control__message_events') }}
),

latest_status as (
    select message_id, status, status_at
    from message_events
    -- statuses at one instant count in the order a message lives them (`sending` is written before the
    -- provider call with the same status_at as the outcome: outcomes win); docs/semantics.md
    qualify row_number() over (
        partition by message_id
        order by
            status_at desc,
            case status
                when 'sending' then 0 when 'sent' then 1 when 'delivered' then 2 when 'read' then 3
                when 'clicked' then 4 when 'failed' then 5 when 'suppressed' then 6 else 7
            end desc
    ) = 1
),

final as (
    select
        sends.message_id,
        sends.journey_id,
        sends.node_id,
        sends.entry_id,
        sends.profile_id,
        sends.recipient_id,
        sends.channel,
        sends.template,
        sends.payload,
        sends.priority,
        sends.not_before,
        sends.tick_at,
        sends.logical_at as created_at,
        sends.ab_group,
        coalesce(latest_status.status, sends.status) as status,
        latest_status.status_at,
        -- why the tick suppressed it; nothing else (the race notice's record reason is not one)
        case when sends.status = 'suppressed' then sends.reason end as suppressed_by,
        sends.cap_exempt,
        sends.version,
    from records as sends
    left join latest_status on latest_status.message_id = sends.message_id
    where sends.record = 'send'
)

select * from final
