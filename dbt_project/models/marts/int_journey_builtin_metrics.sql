{#-
    The built-in metrics of spec section 2 per journey and reach (every entry, or one A/B group): entered,
    exited, completed, the messages that reached each status (sent, sent_<channel>, delivered, read,
    clicked, failed, suppressed) and goal_<id> completions. A group counts only what happened from its
    assignment on (messages created, goals completed at or after reached_at).
-#}
{{ config(schema='journeys_internal', meta={'dagster': {'group': 'metrics'}}) }}

with reach as (
    select * from {{ ref('int_journey_reach') }}
),

state as (
    -- an entry's status from its paths': active while one is, else exited if one exited, else completed
    select
        journey_id,
        entry_id,
        case
            when bool_or(status = 'active') then 'active'
            when bool_or(status = 'exited') then 'exited'
            else 'completed'
        end as status,
    from {{ ref('journey_state') }}
    group by journey_id, entry_id
),

messages as (
    select * from {{ ref('int_message_outcomes') }}
),

goals as (
    select * from {{ ref('goal_completions') }}
),

outcomes as (
    select * from {{ ref('int_journey_outcomes') }}
),

entries as (
    select
        reach.journey_id,
        reach.reach_node,
        reach.ab_group,
        count(*) as entered,
        count(*) filter (where state.status = 'exited') as exited,
        count(*) filter (where state.status = 'completed') as completed,
    from reach
    left join state on state.journey_id = reach.journey_id and state.entry_id = reach.entry_id
    group by all
),

message_counts as (
    select
        reach.journey_id,
        reach.reach_node,
        reach.ab_group,
        count(messages.sent_at) as sent,
        count(messages.delivered_at) as delivered,
        count(messages.read_at) as "read",
        count(messages.clicked_at) as clicked,
        count(messages.failed_at) as failed,
        count(messages.suppressed_at) as suppressed,
        count(messages.sent_at) filter (where messages.channel = 'email') as sent_email,
        count(messages.sent_at) filter (where messages.channel = 'sms') as sent_sms,
        count(messages.sent_at) filter (where messages.channel = 'whatsapp') as sent_whatsapp,
        count(messages.sent_at) filter (where messages.channel = 'webhook') as sent_webhook,
        count(messages.sent_at) filter (where messages.channel = 'push') as sent_push,
    from reach
    inner join messages
        on messages.journey_id = reach.journey_id
        and messages.entry_id = reach.entry_id
        and messages.queued_at >= reach.reached_at
    group by all
),

wide as (
    select
        entries.journey_id,
        entries.reach_node,
        entries.ab_group,
        entries.entered,
        entries.exited,
        entries.completed,
        coalesce(message_counts.sent, 0) as sent,
        coalesce(message_counts.delivered, 0) as delivered,
        coalesce(message_counts."read", 0) as "read",
        coalesce(message_counts.clicked, 0) as clicked,
        coalesce(message_counts.failed, 0) as failed,
        coalesce(message_counts.suppressed, 0) as suppressed,
        coalesce(message_counts.sent_email, 0) as sent_email,
        coalesce(message_counts.sent_sms, 0) as sent_sms,
        coalesce(message_counts.sent_whatsapp, 0) as sent_whatsapp,
        coalesce(message_counts.sent_webhook, 0) as sent_webhook,
        coalesce(message_counts.sent_push, 0) as sent_push,
    from entries
    left join message_counts
        on message_counts.journey_id = entries.journey_id
        and message_counts.reach_node = entries.reach_node
        and message_counts.ab_group = entries.ab_group
),

counted as (
    unpivot wide
    on entered, exited, completed, sent, delivered, "read", clicked, failed, suppressed,
        sent_email, sent_sms, sent_whatsapp, sent_webhook, sent_push
    into name metric_id value value
),

goal_counts as (
    select
        reach.journey_id,
        reach.reach_node,
        reach.ab_group,
        'goal_' || goals.goal_id as metric_id,
        count(*) as value,
    from reach
    inner join goals
        on goals.journey_id = reach.journey_id
        and goals.entry_id = reach.entry_id
        and goals.completed_at >= reach.reached_at
    group by all
),

goal_values as (
    select
        entries.journey_id,
        entries.reach_node,
        entries.ab_group,
        outcomes.outcome_id as metric_id,
        coalesce(goal_counts.value, 0) as value,
    from entries
    inner join outcomes on outcomes.journey_id = entries.journey_id and outcomes.outcome_kind = 'goal'
    left join goal_counts
        on goal_counts.journey_id = entries.journey_id
        and goal_counts.reach_node = entries.reach_node
        and goal_counts.ab_group = entries.ab_group
        and goal_counts.metric_id = outcomes.outcome_id
),

final as (
    select journey_id, reach_node, ab_group, metric_id, cast(value as double) as value, from counted
    union all
    select journey_id, reach_node, ab_group, metric_id, cast(value as double) as value, from goal_values
)

select * from final
