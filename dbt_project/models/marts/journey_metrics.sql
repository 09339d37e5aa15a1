{#-
    Per journey, A/B group ('(all)' = every entry) and metric: how many entries the window counts from
    (`reached`) and the value. Built-ins (entered, sent, delivered, goal_<id>...) and the journey's listed
    metrics (event, detail, composite). Recomputed from scratch by the metrics schedule; `computed_at` is the
    last tick the figures include, so recomputing the same state gives the same rows. See docs/metrics.md.
-#}
{{ config(materialized='table') }}

with builtin as (
    select * from {{ ref('int_journey_builtin_metrics') }}
),

configured as (
    select * from {{ ref('int_journey_configured_metrics') }}
),

catalog as (
    select * from {{ ref('int_journey_catalog') }}
),

tick as (
    select * from {{ ref('stg_control__tick') }}
),

values_ as (
    select
        journey_id,
        reach_node,
        ab_group,
        metric_id,
        case when metric_id like 'goal\_%' escape '\' then 'goal' else 'builtin' end as metric_kind,
        cast(null as varchar) as metric_window,
        value,
    from builtin
    union all
    select journey_id, reach_node, ab_group, metric_id, metric_kind, metric_window, value,
    from configured
),

reached as (
    select journey_id, reach_node, ab_group, value as reached,
    from builtin
    where metric_id = 'entered'
),

final as (
    select
        values_.journey_id,
        catalog.name as journey_name,
        nullif(values_.reach_node, '') as ab_node,
        values_.ab_group,
        values_.metric_id,
        values_.metric_kind,
        values_.metric_window,
        cast(reached.reached as bigint) as reached,
        values_.value,
        tick.tick_at as computed_at,
    from values_
    inner join reached
        on reached.journey_id = values_.journey_id
        and reached.reach_node = values_.reach_node
        and reached.ab_group = values_.ab_group
    left join catalog on catalog.journey_id = values_.journey_id
    cross join tick
)

select * from final
