{#-
    Per journey, version, node, branch, A/B group and day (in the journey's timezone), for BI tools.
    Rows with branch NULL hold the node's own counts: arrived (entries: the forks an all_matches split starts
    are not arrivals, they leave it by their own branch), waiting at the day's end (or now, for today),
    and the messages it created that day (with how many of them were sent, failed, suppressed so far).
    Rows with a branch hold the departures by it: left_node and completed (the path ended there); exits are
    branch 'exit:<reason>' (exit_when, an exit node's reason, missed, ...) and count in `exited`. Every count
    lives on one kind of row, so sums over any column are totals. Version and A/B group are the entry's when
    it arrived at the node. Recomputed by the metrics schedule; computed_at is the last tick it includes.
-#}
{{ config(materialized='table') }}

with records as (
    select * from {{ ref('int_journey_records') }}
),

messages as (
    select * from {{ ref('int_message_outcomes') }}
),

catalog as (
    select * from {{ ref('int_journey_catalog') }}
),

tick as (
    select * from {{ ref('stg_control__tick') }}
),

transitions as (
    select records.*, catalog.timezone,
    from records
    inner join catalog on catalog.journey_id = records.journey_id
    where records.record = 'transition'
),

arrivals as (
    select
        journey_id,
        version,
        node_id,
        ab_group,
        coalesce(path_id, entry_id) as path_id,
        reason,
        cast((logical_at at time zone 'UTC') at time zone timezone as date) as day,
    from transitions
    where node_id is not null
),

departures as (
    select
        transitions.journey_id,
        coalesce(arrivals.version, transitions.version) as version,
        transitions.from_node as node_id,
        case
            when transitions.reason in ('advanced', 'completed') then transitions.branch
            else 'exit:' || transitions.reason
        end as branch,
        arrivals.ab_group,
        transitions.reason,
        cast((transitions.logical_at at time zone 'UTC') at time zone transitions.timezone as date) as day,
    from transitions
    left join arrivals
        on arrivals.journey_id = transitions.journey_id
        and arrivals.path_id = coalesce(transitions.path_id, transitions.entry_id)
        and arrivals.node_id = transitions.from_node
    where transitions.from_node is not null
),

flows as (
    select journey_id, version, node_id, coalesce(ab_group, '') as ab_group, day, count(*) as delta,
    from arrivals
    group by all
    union all
    select journey_id, version, node_id, coalesce(ab_group, '') as ab_group, day, -count(*) as delta,
    from departures
    group by all
),

spans as (
    select
        flows.journey_id,
        flows.version,
        flows.node_id,
        flows.ab_group,
        min(flows.day) as first_day,
        cast((any_value(tick.tick_at) at time zone 'UTC') at time zone any_value(catalog.timezone) as date)
            as last_day,
    from flows
    inner join catalog on catalog.journey_id = flows.journey_id
    cross join tick
    group by all
),

spine as (
    select spans.journey_id, spans.version, spans.node_id, spans.ab_group, cast(days.range as date) as day,
    from spans, range(spans.first_day, greatest(spans.first_day, spans.last_day) + 1, interval 1 day) as days
),

waiting as (
    select
        spine.journey_id,
        spine.version,
        spine.node_id,
        spine.ab_group,
        spine.day,
        sum(coalesce(daily.delta, 0)) over (
            partition by spine.journey_id, spine.version, spine.node_id, spine.ab_group
            order by spine.day rows between unbounded preceding and current row
        ) as waiting,
    from spine
    left join (
        select journey_id, version, node_id, ab_group, day, sum(delta) as delta,
        from flows
        group by all
    ) as daily using (journey_id, version, node_id, ab_group, day)
),

node_arrivals as (
    select journey_id, version, node_id, coalesce(ab_group, '') as ab_group, day, count(*) as arrived,
    from arrivals
    where reason <> 'forked'
    group by all
),

node_messages as (
    select
        messages.journey_id,
        messages.version,
        messages.node_id,
        coalesce(messages.ab_group, '') as ab_group,
        cast((messages.queued_at at time zone 'UTC') at time zone catalog.timezone as date) as day,
        count(*) as messages,
        count(messages.sent_at) as sent,
        count(messages.failed_at) as failed,
        count(messages.suppressed_at) as suppressed,
    from messages
    inner join catalog on catalog.journey_id = messages.journey_id
    group by all
),

node_keys as (
    select journey_id, version, node_id, ab_group, day from waiting
    where waiting > 0
    union
    select journey_id, version, node_id, ab_group, day from node_arrivals
    union
    select journey_id, version, node_id, ab_group, day from node_messages
),

node_rows as (
    select
        node_keys.journey_id,
        node_keys.version,
        node_keys.node_id,
        cast(null as varchar) as branch,
        nullif(node_keys.ab_group, '') as ab_group,
        node_keys.day,
        coalesce(node_arrivals.arrived, 0) as arrived,
        0 as left_node,
        0 as completed,
        0 as exited,
        cast(null as varchar) as exit_reason,
        coalesce(waiting.waiting, 0) as waiting,
        coalesce(node_messages.messages, 0) as messages,
        coalesce(node_messages.sent, 0) as sent,
        coalesce(node_messages.failed, 0) as failed,
        coalesce(node_messages.suppressed, 0) as suppressed,
    from node_keys
    left join node_arrivals using (journey_id, version, node_id, ab_group, day)
    left join waiting using (journey_id, version, node_id, ab_group, day)
    left join node_messages using (journey_id, version, node_id, ab_group, day)
),

branch_rows as (
    select
        journey_id,
        version,
        node_id,
        branch,
        ab_group,
        day,
        0 as arrived,
        count(*) filter (where reason in ('advanced', 'completed')) as left_node,
        count(*) filter (where reason = 'completed') as completed,
        count(*) filter (where reason not in ('advanced', 'completed')) as exited,
        case when branch like 'exit:%' then any_value(reason) end as exit_reason,
        0 as waiting,
        0 as messages,
        0 as sent,
        0 as failed,
        0 as suppressed,
    from departures
    group by journey_id, version, node_id, branch, ab_group, day
),

final as (
    select node_rows.*, tick.tick_at as computed_at, from node_rows cross join tick
    union all
    select branch_rows.*, tick.tick_at as computed_at, from branch_rows cross join tick
)

select * from final
