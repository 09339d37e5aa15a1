with profile_tags as (
    select * from {{ source('raw', 'profile_tags') }}
),

final as (
    select
        cast(profile_id as varchar) as profile_id,
        cast(tag as varchar) as tag,
        {{ as_utc(source('raw', 'profile_tags'), 'tagged_at') }} as tagged_at,
    from profile_tags
)

select * from final
