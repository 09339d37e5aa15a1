{#-
    Events the ticks may see, each event_id once (duplicate deliveries keep their first load).
    Incremental: every tick appends what was loaded since the last one, up to its watermark, so a late
    event (old event_time, new loaded_at) is picked up by the next tick and never lost.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='append_new_columns',
    tags=['tick'],
) }}

with tick as (
    select * from {{ ref('stg_control__tick') }}
),

source_events as (
    select
        cast(event_id as varchar) as event_id,
        cast(profile_id as varchar) as profile_id,
        cast(event_name as varchar) as event_name,
        {{ as_utc(source('raw', 'events'), 'event_time') }} as event_time,
        cast(properties as json) as properties,
        {{ as_utc(source('raw', 'events'), 'loaded_at') }} as loaded_at,
    from {{ source('raw', 'events') }}
    where loaded_at <= (select watermark from tick)
    {% if is_incremental() %}
        and loaded_at >= (select coalesce(max(loaded_at), timestamp '1970-01-01') from {{ this }})
    {% endif %}
),

deduplicated as (
    select *
    from source_events
    qualify row_number() over (
        partition by event_id order by loaded_at, event_time, profile_id, event_name
    ) = 1
),

final as (
    select deduplicated.*
    from deduplicated
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as seen where seen.event_id = deduplicated.event_id)
    {% endif %}
)

select * from final
