{#- Every tag a segment may ask about: other systems' (raw) and the ones journeys published after a tick. -#}
with raw_tags as (
    select * from {{ ref('stg_raw__profile_tags') }}
),

published_tags as (
    select * from {{ source('control', 'published_tags') }}
),

final as (
    select profile_id, tag, tagged_at, false as removed, cast(null as varchar) as journey_id,
    from raw_tags
    union all
    select profile_id, tag, tagged_at, removed, journey_id,
    from published_tags
)

select * from final
