{#- Every tag a segment may ask about: other systems' (raw) and the ones journeys published after a tick.
    `written` orders the writes, so that the latest one at or before a moment decides (docs/semantics.md,
    "Two tag writes at one instant"): by time, then other systems' before any journey's, then the tick that
    published it, the journey id, the entry id, the path id (an all_matches split's forks) and the hop on the
    path (the later node of one path stands). -#}
with raw_tags as (
    select * from {{ ref('stg_raw__profile_tags') }}
),

published_tags as (
    select * from {{ source('control', 'published_tags') }}
),

final as (
    select
        profile_id, tag, tagged_at, false as removed, cast(null as varchar) as journey_id,
        row(tagged_at, cast('-infinity' as timestamp), '', '', '', -1) as written,
    from raw_tags
    union all
    select
        profile_id, tag, tagged_at, removed, journey_id,
        row(
            tagged_at, tick_at, journey_id, coalesce(entry_id, ''), coalesce(path_id, entry_id, ''), coalesce(hop, -1)
        ) as written,
    from published_tags
)

select * from final
