{#-
    Fast counters, appended by every tick: what this tick added, per journey, node, A/B group and (UTC) day —
    moves by logical day, messages created, and message outcomes the senders and providers' callbacks
    recorded since the previous tick (sent, failed, suppressed, delivered, read, clicked, expired). Sum over
    tick_at for totals. journey_node_daily recomputes the same counts from scratch on the metrics schedule
    (05/11/17/23); a re-run of a tick appends nothing.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    tags=['tick'],
    meta={'dagster': {'group': 'metrics'}},
) }}

with tick as (
    select * from {{ ref('stg_control__tick') }}
),

records as (
    select * from {{ ref('int_journey_records') }}
),

message_events as (
    select * from {{ ref('stg_control__message_events') }}
),

this_tick as (
    select records.*
    from records
    where records.tick_at = (select tick_at from tick)
),

moves as (
    select
        journey_id,
        node_id,
        coalesce(ab_group, '') as ab_group,
        cast(logical_at as date) as day,
        count(*) filter (where record = 'transition' and reason <> 'forked') as arrived,
        0 as left_node,
        0 as completed,
        0 as exited,
        count(*) filter (where record = 'send') as messages,
    from this_tick
    where node_id is not null and record in ('transition', 'send')
    group by all
    union all
    select
        journey_id,
        from_node as node_id,
        coalesce(ab_group, '') as ab_group,
        cast(logical_at as date) as day,
        0 as arrived,
        count(*) filter (where reason in ('advanced', 'completed')) as left_node,
        count(*) filter (where reason = 'completed') as completed,
        count(*) filter (where reason not in ('advanced', 'completed')) as exited,
        0 as messages,
    from this_tick
    where record = 'transition' and from_node is not null
    group by all
),

outcomes as (
    -- senders stamp outcomes with their own clock; each lands in the first tick after it
    select
        sends.journey_id,
        sends.node_id,
        coalesce(sends.ab_group, '') as ab_group,
        cast(message_events.status_at as date) as day,
        count(*) filter (where message_events.status = 'sent') as sent,
        count(*) filter (where message_events.status = 'failed') as failed,
        count(*) filter (where message_events.status = 'suppressed') as suppressed,
        count(*) filter (where message_events.status = 'delivered') as delivered,
        count(*) filter (where message_events.status = 'read') as "read",
        count(*) filter (where message_events.status = 'clicked') as clicked,
        count(*) filter (where message_events.status = 'expired') as expired,
    from message_events
    inner join records as sends on sends.record = 'send' and sends.message_id = message_events.message_id
    cross join tick
    where message_events.status_at < tick.tick_at
        and (tick.previous_tick_at is null or message_events.status_at >= tick.previous_tick_at)
    group by all
),

keys as (
    select journey_id, node_id, ab_group, day from moves
    union
    select journey_id, node_id, ab_group, day from outcomes
),

final as (
    select
        tick.tick_at,
        keys.journey_id,
        keys.node_id,
        nullif(keys.ab_group, '') as ab_group,
        keys.day,
        coalesce(sum(moves.arrived), 0) as arrived,
        coalesce(sum(moves.left_node), 0) as left_node,
        coalesce(sum(moves.completed), 0) as completed,
        coalesce(sum(moves.exited), 0) as exited,
        coalesce(sum(moves.messages), 0) as messages,
        coalesce(max(outcomes.sent), 0) as sent,
        coalesce(max(outcomes.failed), 0) as failed,
        coalesce(max(outcomes.suppressed), 0) as suppressed,
        coalesce(max(outcomes.delivered), 0) as delivered,
        coalesce(max(outcomes."read"), 0) as "read",
        coalesce(max(outcomes.clicked), 0) as clicked,
        coalesce(max(outcomes.expired), 0) as expired,
    from keys
    cross join tick
    left join moves using (journey_id, node_id, ab_group, day)
    left join outcomes using (journey_id, node_id, ab_group, day)
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as seen where seen.tick_at >= tick.tick_at)
    {% endif %}
    group by all
)

select * from final
