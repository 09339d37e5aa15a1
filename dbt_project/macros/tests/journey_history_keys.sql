{#-
    The ids a tick writes into a journey history are present and unique (spec sections 3 and 4): every record
    names its entry and profile (the ab_race operator notice aside, which belongs to no entry, and a segment
    trigger's membership change, which names only its profile), every send has
    a message id that no other send record has, an entry is entered once, and one tick leaves one position
    per path. Only this tick's records are checked (against the whole history where uniqueness needs it),
    so the check costs what the tick wrote. A failure fails the tick before it is marked applied, so its
    messages are never dispatched twice.
-#}
{% test journey_history_keys(model) %}

with tick as (
    select tick_at from {{ ref('stg_control__tick') }}
),

history as (
    select * from {{ model }}
),

this_tick as (
    select history.* from history inner join tick on tick.tick_at = history.tick_at
),

problems as (
    select 'record without entry_id or profile_id' as problem, record, entry_id, message_id
    from this_tick
    where (entry_id is null or profile_id is null)
        and not (record = 'send' and reason = 'race_over')
        and not (record = 'member' and profile_id is not null)
    union all
    select 'send without message_id', record, entry_id, message_id
    from this_tick
    where record = 'send' and message_id is null
    union all
    select 'message_id of more than one send', 'send', any_value(entry_id), message_id
    from history
    where record = 'send' and message_id in (select message_id from this_tick where record = 'send')
    group by message_id
    having count(*) > 1
    union all
    select 'entry entered more than once', 'transition', entry_id, null
    from history
    where record = 'transition' and reason = 'entered'
        and entry_id in (select entry_id from this_tick where record = 'transition' and reason = 'entered')
    group by entry_id
    having count(*) > 1
    union all
    select 'two positions for one path in one tick', 'position', any_value(entry_id), null
    from this_tick
    where record = 'position'
    group by coalesce(path_id, entry_id)
    having count(*) > 1
)

select * from problems

{% endtest %}
