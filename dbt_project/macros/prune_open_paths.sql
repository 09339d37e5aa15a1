{#-
    Keep the snapshots of a journey's open paths from the previous tick on: the latest is what the next
    tick starts from, the previous tick's what a re-run of this tick reads. Older ones are derived data.
-#}
{% macro prune_open_paths() %}
    {{ return(adapter.dispatch('prune_open_paths')()) }}
{% endmacro %}

{% macro default__prune_open_paths() %}
delete from {{ this }}
where tick_at < (select previous_tick_at from {{ source('control', 'tick_context') }})
{% endmacro %}

{#- Spark's Hive tables take no DELETE: the snapshots stay (a tick reads only the previous tick's), and a
    periodic compaction is the cluster's job (docs/spark.md). -#}
{% macro spark__prune_open_paths() %}
{% endmacro %}
