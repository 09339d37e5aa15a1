{#- The configured name of a raw source table (e.g. 'raw.events'), as a SQL string: what people look up. -#}
{% macro raw_table_name(name) -%}
    '{{ source('raw', name).schema }}.{{ source('raw', name).identifier }}'
{%- endmacro %}
