{#-
    The two-sided p-value of a standard normal statistic `z`: erfc(|z| / sqrt 2), by Abramowitz & Stegun
    7.1.26 (absolute error below 1.5e-7). Portable SQL: few engines have erfc or a normal CDF.
-#}
{% macro two_sided_p_value(z) -%}
    (1 / (1 + 0.3275911 * abs({{ z }}) / sqrt(2))) * (0.254829592 + (1 / (1 + 0.3275911 * abs({{ z }}) / sqrt(2)))
        * (-0.284496736 + (1 / (1 + 0.3275911 * abs({{ z }}) / sqrt(2))) * (1.421413741
        + (1 / (1 + 0.3275911 * abs({{ z }}) / sqrt(2))) * (-1.453152027
        + (1 / (1 + 0.3275911 * abs({{ z }}) / sqrt(2))) * 1.061405429)))) * exp(-({{ z }} * {{ z }}) / 2)
{%- endmacro %}

{#-
    Student's t with `df` degrees of freedom as the standard normal statistic of the same tail, by Wallace's
    (1959) transformation z = (8 df + 1) / (8 df + 3) * sqrt(df * ln(1 + t^2 / df)): the p-value it gives is
    within 7e-4 of the exact one for df >= 5 and within 1.5e-3 for df >= 3 (tests/metrics check it against a
    numerical integration). Few engines have a t distribution.
-#}
{% macro t_as_z(t, df) -%}
    (8 * {{ df }} + 1) / (8 * {{ df }} + 3) * sqrt({{ df }} * ln(1 + {{ t }} * {{ t }} / {{ df }}))
{%- endmacro %}

{#- The 97.5% quantile of Student's t with `df` degrees of freedom: Wallace's transformation inverted. -#}
{% macro t_quantile_975(df) -%}
    sqrt({{ df }} * (exp(pow(1.959963984540054 * (8 * {{ df }} + 3) / (8 * {{ df }} + 1), 2) / {{ df }}) - 1))
{%- endmacro %}
