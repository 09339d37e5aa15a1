{#-
    Every ab_split / ab_race node, variant and outcome (a goal, or an event/detail metric of the journey):
    entries that got the variant (`reached`), those that converted after it (`converted`), the rate, and the
    comparison with the first variant (the control): uplift, a two-sided two-proportion z-test (pooled) and
    the 95% confidence interval of the rate difference (unpooled). For metrics whose per-entry value is a
    count or a sum (event counts, detail counts and sums such as GMV), the mean per reached entry and
    Welch's t-test of the difference of means with its 95% interval. A race says whether its test phase has
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

metric_values as (
    select * from {{ ref('int_journey_metric_facts') }}
    where reach_node <> ''
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

value_sums as (
    -- entries without a row have the value 0, so these sums over the rows are sums over every entry
    select journey_id, reach_node as node_id, ab_group as variant, metric_id as outcome_id,
        sum(value) as value_sum, sum(value * value) as value_squares,
    from metric_values
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
        case when outcomes.compares_means then coalesce(value_sums.value_sum, 0) / nullif(reached.reached, 0) end
            as mean_value,
        -- the sample variance (zero rounded up from below); undefined for a single entry
        case when outcomes.compares_means and reached.reached > 1 then greatest(
            (coalesce(value_sums.value_squares, 0) - pow(coalesce(value_sums.value_sum, 0), 2) / reached.reached)
            / (reached.reached - 1),
            0
        ) end as value_variance,
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
    left join value_sums
        on value_sums.journey_id = variants.journey_id
        and value_sums.node_id = variants.node_id
        and value_sums.variant = variants.variant
        and value_sums.outcome_id = outcomes.outcome_id
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
        control.mean_value as control_mean,
        -- Welch: each arm's own variance of the mean
        counted.value_variance / nullif(counted.reached, 0) as mean_variance,
        control.value_variance / nullif(control.reached, 0) as control_mean_variance,
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
        (mean_value - control_mean) / nullif(sqrt(mean_variance + control_mean_variance), 0) as welch_t,
        -- Welch-Satterthwaite degrees of freedom
        pow(mean_variance + control_mean_variance, 2) / nullif(
            pow(mean_variance, 2) / nullif(reached - 1, 0) + pow(control_mean_variance, 2) / nullif(control_reached - 1, 0),
            0
        ) as welch_df,
    from compared
    where position > 0
),

p_values as (
    select
        *,
        {{ two_sided_p_value('z') }} as p_value,
        {{ two_sided_p_value(t_as_z('welch_t', 'welch_df')) }} as welch_p_value,
        {{ t_quantile_975('welch_df') }} * sqrt(mean_variance + control_mean_variance) as mean_margin,
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
        p_values.p_value,
        p_values.rate - p_values.control_rate - p_values.margin as ci_low,
        p_values.rate - p_values.control_rate + p_values.margin as ci_high,
        counted.mean_value,
        sqrt(counted.value_variance) as value_stddev,
        p_values.mean_value - p_values.control_mean as mean_difference,
        p_values.welch_t,
        p_values.welch_df,
        p_values.welch_p_value,
        p_values.mean_value - p_values.control_mean - p_values.mean_margin as mean_ci_low,
        p_values.mean_value - p_values.control_mean + p_values.mean_margin as mean_ci_high,
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
