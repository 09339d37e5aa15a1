{#-
    Events the ticks may see, each event_id once (duplicate deliveries keep their first load).
    Incremental: every tick appends the usable events loaded since the previous tick's watermark, up to its
    own, so a late event (old event_time, new loaded_at) is picked up by the next tick and never lost; plus
    the held or rejected events that became usable at this tick (journeys.rejected_rows says `admitted`),
    which enter with their own event times.
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

events as (
    select * from {{ ref('base_raw__events') }}
),

rejected_rows as (
    select * from {{ ref('rejected_rows') }}
),

loaded_since_last_tick as (
    select events.*
    from events, tick
    where events.loaded_at <= tick.watermark
        and (tick.previous_watermark is null or events.loaded_at > tick.previous_watermark)
        and events.problem is null
),

usable_again as (
    select events.*
    from events
    inner join rejected_rows
        on rejected_rows.row_key = events.row_key
        and rejected_rows.loaded_at = events.loaded_at
    inner join tick on tick.tick_at = rejected_rows.tick_at
    where rejected_rows.source_table = {{ raw_table_name('events') }}
        and rejected_rows.status = 'admitted'
        and events.problem is null
),

candidates as (
    select * from loaded_since_last_tick
    union all
    select * from usable_again
),

arrivals as (
    select
        *,
        row_number() over (
            partition by event_id order by loaded_at, event_time, profile_id, event_name
        ) as arrival
    from candidates
),

deduplicated as (
    select
        event_id,
        profile_id,
        event_name,
        event_time,
        properties,
        loaded_at
    from arrivals
    where arrival = 1
),

final as (
    -- staged_at: the tick that staged the event; a tick looks first at what it staged itself
    select deduplicated.*, tick.tick_at as staged_at
    from deduplicated
    cross join tick
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as seen where seen.event_id = deduplicated.event_id)
    {% endif %}
)

select * from final
