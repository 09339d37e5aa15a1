{#-
    One row per message: when it first reached each status the senders (and providers' callbacks) recorded,
    and why it was suppressed (by the tick: blacklist, quiet hours...; or at dispatch: caps, exclusivity).
    The channel mart, the node mart and the built-in metrics all count from here.
-#}
{{ config(schema='journeys_internal', meta={'dagster': {'group': 'metrics'}}) }}

with sends as (
    select * from {{ ref('send_queue') }}
),

message_events as (
    select * from {{ ref('stg_control__message_events') }}
),

firsts as (
    select
        message_id,
        min(status_at) filter (where status = 'sent') as sent_at,
        min(status_at) filter (where status = 'delivered') as delivered_at,
        min(status_at) filter (where status = 'read') as read_at,
        min(status_at) filter (where status = 'clicked') as clicked_at,
        min(status_at) filter (where status = 'failed') as failed_at,
        min(status_at) filter (where status = 'bounced') as bounced_at,
        min(status_at) filter (where status = 'unsubscribed') as unsubscribed_at,
        min(status_at) filter (where status = 'deferred') as deferred_at,
        min(status_at) filter (where status = 'expired') as expired_at,
        min(status_at) filter (where status = 'suppressed') as suppressed_at,
        arg_min(detail, status_at) filter (where status = 'suppressed') as suppressed_detail,
    from message_events
    group by message_id
),

final as (
    select
        sends.message_id,
        sends.journey_id,
        sends.version,
        sends.node_id,
        sends.entry_id,
        sends.profile_id,
        sends.channel,
        sends.ab_group,
        sends.created_at as queued_at,
        firsts.sent_at,
        firsts.delivered_at,
        firsts.read_at,
        firsts.clicked_at,
        firsts.failed_at,
        firsts.bounced_at,
        firsts.unsubscribed_at,
        firsts.deferred_at,
        firsts.expired_at,
        case when sends.suppressed_by is not null then sends.created_at else firsts.suppressed_at end
            as suppressed_at,
        coalesce(sends.suppressed_by, firsts.suppressed_detail) as suppressed_by,
    from sends
    left join firsts using (message_id)
)

select * from final
