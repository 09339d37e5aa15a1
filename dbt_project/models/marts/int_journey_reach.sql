{#-
    Who each metric counts from, and since when: one row per entry (reach_node '', ab_group '(all)',
    reached at entry), one per A/B assignment (reach_node = the ab_split / ab_race node, ab_group = the
    variant, reached when the entry left that node by it), and, in a journey with a holdout, one per entry
    (reach_node '(holdout)', ab_group 'holdout' or 'messaged', reached at entry). An ab_race's winner
    traffic has no group and appears only in '(all)'. Metric windows count from reached_at (docs/metrics.md).
-#}
{{ config(schema='journeys_internal', meta={'dagster': {'group': 'metrics'}}) }}

with records as (
    select * from {{ ref('int_journey_records') }}
),

ab_nodes as (
    select distinct journey_id, node_id from {{ ref('int_journey_variants') }}
),

holdouts as (
    select * from {{ ref('int_journey_holdouts') }}
),

entries as (
    select journey_id, version, entry_id, profile_id, entry_at, trigger_event_id,
    from records
    where record = 'transition' and reason = 'entered'
),

assignments as (
    select
        records.journey_id,
        records.from_node as reach_node,
        records.ab_group,
        records.entry_id,
        records.logical_at as reached_at,
    from records
    inner join ab_nodes
        on ab_nodes.journey_id = records.journey_id and ab_nodes.node_id = records.from_node
    where records.record = 'transition' and records.ab_group is not null
),

final as (
    select
        journey_id,
        version,
        '' as reach_node,
        '(all)' as ab_group,
        entry_id,
        profile_id,
        entry_at,
        entry_at as reached_at,
        trigger_event_id,
    from entries
    union all
    select
        entries.journey_id,
        entries.version,
        assignments.reach_node,
        assignments.ab_group,
        entries.entry_id,
        entries.profile_id,
        entries.entry_at,
        assignments.reached_at,
        entries.trigger_event_id,
    from assignments
    inner join entries using (journey_id, entry_id)
    union all
    select
        entries.journey_id,
        entries.version,
        holdouts.reach_node,
        holdouts.ab_group,
        entries.entry_id,
        entries.profile_id,
        entries.entry_at,
        entries.entry_at as reached_at,
        entries.trigger_event_id,
    from holdouts
    inner join entries using (journey_id, entry_id)
)

select * from final
