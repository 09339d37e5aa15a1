{#-
    `column` of `relation` as `type`, or a typed NULL when the table lacks it: detail tables declare
    optional columns (e.g. orders.category) that a table built from the spec's minimum columns may not have.
    A value that does not fit the type (text in an amount column) reads as NULL instead of failing the tick.
-#}
{% macro column_or_null(relation, column, type) -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for existing in adapter.get_columns_in_relation(relation) -%}
            {%- if existing.name | lower == column | lower -%}{%- do present.append(existing.name) -%}{%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if present or not execute -%}try_cast({{ adapter.quote(column) }} as {{ type }}){%- else -%}cast(null as {{ type }}){%- endif -%}
{%- endmacro %}
