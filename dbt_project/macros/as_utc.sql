{#-
    A raw time column as a naive UTC timestamp, whatever the reader's session timezone: TIMESTAMPTZ columns
    are converted explicitly (a plain cast would follow the session's zone), TIMESTAMP columns are UTC already.
-#}
{% macro as_utc(relation, column) -%}
    {{ return(adapter.dispatch('as_utc')(relation, column)) }}
{%- endmacro %}

{% macro default__as_utc(relation, column) -%}
    {%- set zoned = [] -%}
    {%- if execute -%}
        {%- for existing in adapter.get_columns_in_relation(relation) -%}
            {%- if existing.name | lower == column | lower and 'TIME ZONE' in existing.dtype | upper -%}
                {%- do zoned.append(existing.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- if zoned -%}({{ adapter.quote(column) }} at time zone 'UTC'){%- else -%}cast({{ adapter.quote(column) }} as timestamp){%- endif -%}
{%- endmacro %}

{#- Spark's TIMESTAMP is an instant shown in the session zone (UTC, profiles.yml): as TIMESTAMP_NTZ it is the
    naive UTC time every generated model compares with. -#}
{% macro spark__as_utc(relation, column) -%}
    cast({{ adapter.quote(column) }} as timestamp_ntz)
{%- endmacro %}
