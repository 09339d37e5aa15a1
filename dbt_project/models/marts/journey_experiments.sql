{#-
    Every ab_split / ab_race node, variant and outcome (a goal, or an event/detail metric of the journey):
    entries that got the variant (`reached`), those that converted after it (`converted`), the rate, and the
    comparison with the first variant (the control): uplift, a two-sided two-proportion z-test (pooled) and
    the 95% confidence interval of the rate difference (unpooled). A race says whether its test phase has
    its sample (sample_size test arrivals, or test_ends_after since the first). See docs/metrics.md.
-#}
{{ config(materialized='table') }}

with variants as (
    select * from {{ ref('int_journey_variants') }}
),

outcomes as (
    select * from {{ ref('int_journey_outcomes') }}
),

reach as (
    select * from {{ ref('int_journey_reach') }}
    where reach_node <> ''
),

facts as (
    select * from {{ ref('int_journey_metric_facts') }}
    where reach_node <> '' and converted
),

goals as (
    select * from {{ ref('goal_completions') }}
),

tick as (
    select * from {{ ref('stg_control__tick') }}
),

reached as (
    select journey_id, reach_node as node_id, ab_group as variant, count(*) as reached, min(reached_at) as first_at,
    from reach
    group by all
),

conversions as (
    select
        reach.journey_id,
        reach.reach_node as node_id,
        reach.ab_group as variant,
        'goal_' || goals.goal_id as outcome_id,
        count(distinct reach.entry_id) as converted,
    from reach
    inner join goals
        on goals.journey_id = reach.journey_id
        and goals.entry_id = reach.entry_id
        and goals.completed_at >= reach.reached_at
    group by all
    union all
    select journey_id, reach_node as node_id, ab_group as variant, metric_id as outcome_id,
        count(distinct entry_id) as converted,
    from facts
    group by all
),

counted as (
    select
        variants.journey_id,
        variants.node_id,
        variants.node_kind,
        variants.variant,
        variants.position,
        outcomes.outcome_id,
        outcomes.outcome_kind,
        coalesce(reached.reached, 0) as reached,
        coalesce(conversions.converted, 0) as converted,
        coalesce(conversions.converted, 0) / nullif(reached.reached, 0) as rate,
    from variants
    inner join outcomes on outcomes.journey_id = variants.journey_id
    left join reached
        on reached.journey_id = variants.journey_id
        and reached.node_id = variants.node_id
        and reached.variant = variants.variant
    left join conversions
        on conversions.journey_id = variants.journey_id
        and conversions.node_id = variants.node_id
        and conversions.variant = variants.variant
        and conversions.outcome_id = outcomes.outcome_id
),

samples as (
    select
        variants.journey_id,
        variants.node_id,
        coalesce(
            coalesce(sum(reached.reached), 0) >= any_value(variants.sample_size)
            or min(reached.first_at) + to_seconds(any_value(variants.test_ends_after_seconds))
            <= any_value(tick.tick_at),
            false
        ) as has_sample,
    from variants
    cross join tick
    left join reached
        on reached.journey_id = variants.journey_id
        and reached.node_id = variants.node_id
        and reached.variant = variants.variant
    where variants.node_kind = 'ab_race'
    group by all
),

compared as (
    select
        counted.*,
        control.variant as control_variant,
        control.reached as control_reached,
        control.converted as control_converted,
        control.rate as control_rate,
        (counted.converted + control.converted) / nullif(counted.reached + control.reached, 0) as pooled_rate,
    from counted
    inner join counted as control
        on control.journey_id = counted.journey_id
        and control.node_id = counted.node_id
        and control.outcome_id = counted.outcome_id
        and control.position = 0
),

tested as (
    select
        compared.*,
        (rate - control_rate)
            / nullif(sqrt(pooled_rate * (1 - pooled_rate) * (1 / reached + 1 / control_reached)), 0) as z,
        1.959963984540054 * sqrt(
            rate * (1 - rate) / nullif(reached, 0) + control_rate * (1 - control_rate) / nullif(control_reached, 0)
        ) as margin,
    from compared
    where position > 0
),

p_values as (
    -- two-sided p = erfc(|z| / sqrt 2); erfc by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7)
    select
        *,
        1 / (1 + 0.3275911 * abs(z) / sqrt(2)) as t,
    from tested
),

final as (
    select
        counted.journey_id,
        counted.node_id,
        counted.node_kind,
        counted.variant,
        counted.position = 0 as is_control,
        counted.outcome_id,
        counted.outcome_kind,
        counted.reached,
        counted.converted,
        counted.rate,
        p_values.rate - p_values.control_rate as rate_difference,
        p_values.rate / nullif(p_values.control_rate, 0) - 1 as uplift,
        p_values.z as z_score,
        p_values.t * (0.254829592 + p_values.t * (-0.284496736 + p_values.t * (1.421413741
            + p_values.t * (-1.453152027 + p_values.t * 1.061405429)))) * exp(-(p_values.z * p_values.z) / 2)
            as p_value,
        p_values.rate - p_values.control_rate - p_values.margin as ci_low,
        p_values.rate - p_values.control_rate + p_values.margin as ci_high,
        samples.has_sample,
        tick.tick_at as computed_at,
    from counted
    cross join tick
    left join p_values
        on p_values.journey_id = counted.journey_id
        and p_values.node_id = counted.node_id
        and p_values.variant = counted.variant
        and p_values.outcome_id = counted.outcome_id
    left join samples on samples.journey_id = counted.journey_id and samples.node_id = counted.node_id
)

select * from final
