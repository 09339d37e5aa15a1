{#-
    The data-quality log: every raw row a tick could not use as it is, listed once, with its table, key and
    reason. `rejected`: kept out of the ticks (a NULL id or time, JSON that does not parse, an event of a
    profile the profiles table lacks). `repaired`: used after a fix the reason names (duplicate profile rows,
    an unknown timezone). `admitted`: a rejected row that became usable (fixed in place, or its profile
    arrived); the tick that admits it stages it with its own times. Append-only; a re-run tick adds nothing.
-#}
{{ config(tags=['tick']) }}

with tick as (
    select * from {{ ref('stg_control__tick') }}
),

events as (
    select * from {{ ref('base_raw__events') }}
),

profiles as (
    select * from {{ ref('base_raw__profiles') }}
),

profile_tags as (
    select * from {{ ref('base_raw__profile_tags') }}
),

relations as (
    select * from {{ ref('base_raw__relations') }}
),

trading_calendar as (
    select * from {{ ref('base_raw__trading_calendar') }}
),

zones as (
    {{ timezone_names() }}
),

listed as (
    {% if is_incremental() %}
    select tick_at, source_table, row_key, status, reason, loaded_at from {{ this }}
    {% else %}
    select
        cast(null as timestamp) as tick_at,
        cast(null as string) as source_table,
        cast(null as string) as row_key,
        cast(null as string) as status,
        cast(null as string) as reason,
        cast(null as timestamp) as loaded_at
    where false
    {% endif %}
),

-- rejected rows not admitted since: looked at again every tick
still_rejected as (
    select source_table, row_key, any_value(loaded_at) as loaded_at
    from listed
    group by source_table, row_key
    having max(case when status = 'rejected' then tick_at end)
        > coalesce(max(case when status = 'admitted' then tick_at end), timestamp '0001-01-01 00:00:00')
),

event_window as (
    select events.row_key, events.problem, events.loaded_at
    from events, tick
    where (
        events.loaded_at <= tick.watermark
        and (tick.previous_watermark is null or events.loaded_at > tick.previous_watermark)
    ) or events.loaded_at is null
),

events_again as (
    select events.row_key, events.problem, events.loaded_at
    from events
    inner join still_rejected
        on still_rejected.source_table = {{ raw_table_name('events') }}
        and still_rejected.row_key = events.row_key
        and still_rejected.loaded_at is not distinct from events.loaded_at
    -- the range lets the scan skip every row group outside it (nothing at all when nothing is rejected)
    where events.loaded_at between
        (select min(loaded_at) from still_rejected) and (select max(loaded_at) from still_rejected)
        or events.loaded_at is null
),

whole_tables as (
    select {{ raw_table_name('profiles') }} as source_table, row_key, problem from profiles
    union all
    select {{ raw_table_name('profile_tags') }}, row_key, problem from profile_tags
    union all
    select {{ raw_table_name('relations') }}, row_key, problem from relations
    union all
    select {{ raw_table_name('trading_calendar') }}, row_key, problem from trading_calendar
),

findings as (
    select {{ raw_table_name('events') }} as source_table, row_key, 'rejected' as status, problem as reason, loaded_at
    from event_window
    where problem is not null
    union all
    select {{ raw_table_name('events') }}, row_key, 'rejected', problem, loaded_at
    from events_again
    where problem is not null
    union all
    select source_table, row_key, 'rejected', problem, cast(null as timestamp)
    from whole_tables
    where problem is not null
    union all
    select
        {{ raw_table_name('profiles') }},
        profile_id,
        'repaired',
        count(*) || ' rows for one profile_id: the one with the latest updated_at is used',
        cast(null as timestamp)
    from profiles
    where problem is null
    group by profile_id
    having count(*) > 1
    union all
    select distinct
        {{ raw_table_name('profiles') }},
        profile_id,
        'repaired',
        'timezone ' || timezone || ' is not an IANA time zone: the journey''s timezone is used',
        cast(null as timestamp)
    from profiles
    where problem is null and timezone is not null and timezone not in (select name from zones)
    union all
    select
        {{ raw_table_name('trading_calendar') }},
        row_key,
        'repaired',
        count(*) || ' rows for one day: a trading day only if every row says so',
        cast(null as timestamp)
    from trading_calendar
    where problem is null
    group by row_key
    having count(*) > 1
),

newly_listed as (
    select distinct findings.*
    from findings
    where not exists (
        select 1
        from listed
        where listed.source_table = findings.source_table
            and listed.row_key = findings.row_key
            and listed.reason = findings.reason
    )
),

admitted as (
    select {{ raw_table_name('events') }} as source_table, row_key, 'admitted' as status,
        'usable now: staged with its own event_time' as reason, loaded_at
    from events_again
    where problem is null
    union all
    select distinct still_rejected.source_table, still_rejected.row_key, 'admitted', 'usable now',
        cast(null as timestamp)
    from still_rejected
    inner join whole_tables
        on whole_tables.source_table = still_rejected.source_table
        and whole_tables.row_key = still_rejected.row_key
    where whole_tables.problem is null
        and not exists (
            select 1 from whole_tables as bad
            where bad.source_table = still_rejected.source_table
                and bad.row_key = still_rejected.row_key
                and bad.problem is not null
        )
),

final as (
    select
        tick.tick_at,
        found.source_table,
        found.row_key,
        found.status,
        found.reason,
        found.loaded_at
    from (
        select * from newly_listed
        union all
        select * from admitted
    ) as found
    cross join tick
    {% if is_incremental() %}
    where not exists (select 1 from {{ this }} as done where done.tick_at = tick.tick_at)
    {% endif %}
)

select * from final
