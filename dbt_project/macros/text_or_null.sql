{#- A raw text column as VARCHAR, with blanks read as NULL: an empty id is as missing as a NULL one. -#}
{% macro text_or_null(column) -%}
    nullif(trim(cast({{ adapter.quote(column) }} as string)), '')
{%- endmacro %}
