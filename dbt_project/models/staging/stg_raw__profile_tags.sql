with profile_tags as (
    select * from {{ ref('base_raw__profile_tags') }}
),

final as (
    select
        profile_id,
        tag,
        tagged_at
    from profile_tags
    where problem is null
)

select * from final
