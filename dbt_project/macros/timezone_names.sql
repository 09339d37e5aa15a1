{#-
    The IANA time zone names the warehouse knows, as a query with one column `name`: a profile's timezone
    outside it reads as NULL. DuckDB lists its own; Spark has no such table, so the names are the ones
    dbt's pytz knows (the same tz database).
-#}
{% macro timezone_names() -%}
    {{ return(adapter.dispatch('timezone_names')()) }}
{%- endmacro %}

{% macro default__timezone_names() -%}
    select name from pg_timezone_names()
{%- endmacro %}

{% macro spark__timezone_names() -%}
    select explode(array(
        {%- for zone in modules.pytz.all_timezones %}'{{ zone }}'{{ ', ' if not loop.last }}{% endfor -%}
    )) as name
{%- endmacro %}
