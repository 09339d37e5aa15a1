with profiles as (
    select * from {{ source('raw', 'profiles') }}
),

final as (
    select
        cast(profile_id as varchar) as profile_id,
        cast(email as varchar) as email,
        cast(phone as varchar) as phone,
        cast(timezone as varchar) as timezone,
        cast(attributes as json) as attributes,
        {{ as_utc(source('raw', 'profiles'), 'updated_at') }} as updated_at,
    from profiles
)

select * from final
