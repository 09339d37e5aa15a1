{#-
    Every raw profile row, typed, with the reason it cannot be used (NULL when it can): a row without a
    profile_id, or whose attributes are not JSON, is left out; stg_raw__profiles resolves the rest.
-#}
with profiles as (
    select * from {{ source('raw', 'profiles') }}
),

typed as (
    select
        {{ text_or_null('profile_id') }} as profile_id,
        cast(email as string) as email,
        cast(phone as string) as phone,
        {{ text_or_null('timezone') }} as timezone,
        {{ json_or_null('attributes') }} as attributes,
        attributes is not null as has_attributes,
        {{ as_utc(source('raw', 'profiles'), 'updated_at') }} as updated_at
    from profiles
),

final as (
    select
        profile_id,
        email,
        phone,
        timezone,
        attributes,
        updated_at,
        coalesce(
            profile_id,
            'row ' || md5(concat_ws('|', email, phone, timezone, cast(attributes as string), updated_at))
        ) as row_key,
        case
            when profile_id is null then 'profile_id is missing'
            when has_attributes and attributes is null then 'attributes is not valid JSON'
        end as problem
    from typed
)

select * from final
