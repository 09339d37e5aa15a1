{#-
    Every raw event, typed, with the reason it cannot be used (NULL when it can). Raw tables are written by
    other systems: a row missing its id, profile or times, or with properties that are not JSON, stays out
    of the ticks (listed in journeys.rejected_rows) instead of failing them or entering a ghost profile.
    An event of a profile that raw.profiles does not have (yet) is held the same way until it does.
-#}
with events as (
    select * from {{ source('raw', 'events') }}
),

profiles as (
    select * from {{ ref('stg_raw__profiles') }}
),

typed as (
    select
        {{ text_or_null('event_id') }} as event_id,
        {{ text_or_null('profile_id') }} as profile_id,
        {{ text_or_null('event_name') }} as event_name,
        {{ as_utc(source('raw', 'events'), 'event_time') }} as event_time,
        {{ json_or_null('properties') }} as properties,
        properties is not null as has_properties,
        {{ as_utc(source('raw', 'events'), 'loaded_at') }} as loaded_at
    from events
),

final as (
    select
        typed.event_id,
        typed.profile_id,
        typed.event_name,
        typed.event_time,
        typed.properties,
        typed.loaded_at,
        coalesce(
            typed.event_id,
            'row ' || md5(concat_ws('|', typed.profile_id, typed.event_name, typed.event_time, typed.loaded_at))
        ) as row_key,
        case
            when typed.event_id is null then 'event_id is missing'
            when typed.profile_id is null then 'profile_id is missing'
            when typed.event_name is null then 'event_name is missing'
            when typed.event_time is null then 'event_time is missing'
            when typed.loaded_at is null then 'loaded_at is missing'
            when typed.has_properties and typed.properties is null then 'properties is not valid JSON'
            when profiles.profile_id is null then 'profile ' || typed.profile_id || ' is not in the profiles table (held until it is)'
        end as problem
    from typed
    left join profiles on profiles.profile_id = typed.profile_id
)

select * from final
