{#-
    Per journey, send node, channel, suppression reason and day (in the journey's timezone): how many of
    its messages were queued (created), and first reached each status that day. Every message sits under one
    `suppressed_by` (NULL: not suppressed), so sums over it are the node's totals.
-#}
{{ config(materialized='table') }}

with messages as (
    select * from {{ ref('int_message_outcomes') }}
),

catalog as (
    select * from {{ ref('int_journey_catalog') }}
),

tick as (
    select * from {{ ref('stg_control__tick') }}
),

happened as (
    unpivot messages
    on queued_at, sent_at, delivered_at, read_at, clicked_at, failed_at, bounced_at, unsubscribed_at,
        deferred_at, expired_at, suppressed_at
    into name status value status_at
),

final as (
    select
        happened.journey_id,
        happened.node_id,
        happened.channel,
        happened.suppressed_by,
        cast((happened.status_at at time zone 'UTC') at time zone catalog.timezone as date) as day,
        count(*) filter (where status = 'queued_at') as queued,
        count(*) filter (where status = 'sent_at') as sent,
        count(*) filter (where status = 'delivered_at') as delivered,
        count(*) filter (where status = 'read_at') as "read",
        count(*) filter (where status = 'clicked_at') as clicked,
        count(*) filter (where status = 'failed_at') as failed,
        count(*) filter (where status = 'bounced_at') as bounced,
        count(*) filter (where status = 'unsubscribed_at') as unsubscribed,
        count(*) filter (where status = 'deferred_at') as deferred,
        count(*) filter (where status = 'expired_at') as expired,
        count(*) filter (where status = 'suppressed_at') as suppressed,
        any_value(tick.tick_at) as computed_at,
    from happened
    inner join catalog on catalog.journey_id = happened.journey_id
    cross join tick
    group by all
)

select * from final
