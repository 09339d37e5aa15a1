{#-
    A raw JSON column (attributes, properties) as the warehouse's JSON, or NULL when its text is not JSON.
    DuckDB has a JSON type to cast to; Spark keeps JSON as STRING and reads it with the JSON functions, so
    there the text stays as it is, when it parses.
-#}
{% macro json_or_null(column) -%}
    {{ return(adapter.dispatch('json_or_null')(column)) }}
{%- endmacro %}

{% macro default__json_or_null(column) -%}
    try_cast({{ adapter.quote(column) }} as json)
{%- endmacro %}

{% macro spark__json_or_null(column) -%}
    case when try_parse_json(cast({{ adapter.quote(column) }} as string)) is not null
        then cast({{ adapter.quote(column) }} as string) end
{%- endmacro %}
