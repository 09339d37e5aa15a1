{#- Every raw profile tag, typed, with the reason it cannot be used (NULL when it can). -#}
with profile_tags as (
    select * from {{ source('raw', 'profile_tags') }}
),

typed as (
    select
        {{ text_or_null('profile_id') }} as profile_id,
        {{ text_or_null('tag') }} as tag,
        {{ as_utc(source('raw', 'profile_tags'), 'tagged_at') }} as tagged_at
    from profile_tags
),

final as (
    select
        *,
        concat_ws(' / ', coalesce(profile_id, '?'), coalesce(tag, '?'), coalesce(cast(tagged_at as string), '?')) as row_key,
        case
            when profile_id is null then 'profile_id is missing'
            when tag is null then 'tag is missing'
            when tagged_at is null then 'tagged_at is missing'
        end as problem
    from typed
)

select * from final
