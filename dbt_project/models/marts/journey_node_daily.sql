{#-
    Per journey, node, A/B group and (logical, UTC) day: how many arrived, left, completed, exited, and how
    many messages were created and sent. A table, refreshed by the metrics schedule and cheap enough for every tick.
-#}
{{ config(materialized='table') }}

with transitions as (
    select * from {{ ref('journey_transitions') }}
),

sends as (
    select * from {{ ref('send_queue') }}
),

arrivals as (
    select journey_id, to_node as node_id, coalesce(ab_group, '') as ab_group, cast(logical_at as date) as day, count(*) as arrived,
    from transitions
    where to_node is not null
    group by all
),

departures as (
    select
        journey_id,
        from_node as node_id,
        coalesce(ab_group, '') as ab_group,
        cast(logical_at as date) as day,
        count(*) filter (where reason in ('advanced', 'completed')) as left_node,
        count(*) filter (where reason = 'completed') as completed,
        count(*) filter (where reason = 'exit_when') as exited,
    from transitions
    where from_node is not null
    group by all
),

messages as (
    select
        journey_id,
        node_id,
        coalesce(ab_group, '') as ab_group,
        cast(created_at as date) as day,
        count(*) as messages,
        count(*) filter (where status = 'sent') as sent,
        count(*) filter (where status = 'failed') as failed,
        count(*) filter (where status = 'suppressed') as suppressed,
    from sends
    group by all
),

keys as (
    select journey_id, node_id, ab_group, day from arrivals
    union
    select journey_id, node_id, ab_group, day from departures
    union
    select journey_id, node_id, ab_group, day from messages
),

final as (
    select
        keys.journey_id,
        keys.node_id,
        nullif(keys.ab_group, '') as ab_group,
        keys.day,
        coalesce(arrivals.arrived, 0) as arrived,
        coalesce(departures.left_node, 0) as left_node,
        coalesce(departures.completed, 0) as completed,
        coalesce(departures.exited, 0) as exited,
        coalesce(messages.messages, 0) as messages,
        coalesce(messages.sent, 0) as sent,
        coalesce(messages.failed, 0) as failed,
        coalesce(messages.suppressed, 0) as suppressed,
    from keys
    left join arrivals using (journey_id, node_id, ab_group, day)
    left join departures using (journey_id, node_id, ab_group, day)
    left join messages using (journey_id, node_id, ab_group, day)
)

select * from final
