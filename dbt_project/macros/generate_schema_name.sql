{#- Custom schemas are used as named (`journeys`, not `main_journeys`): BI tools read them directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ custom_schema_name if custom_schema_name else target.schema }}
{%- endmacro %}
