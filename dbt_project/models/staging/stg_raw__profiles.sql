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
        cast(updated_at as timestamp) as updated_at,
    from profiles
)

select * from final
