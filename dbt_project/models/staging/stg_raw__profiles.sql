{#-
    One row per profile: the latest `updated_at` wins (then a tie-break on the row's content, so the choice
    never depends on storage order); a timezone that is not an IANA zone reads as NULL, so the journey's
    timezone applies. Rows that cannot be used are listed in journeys.rejected_rows.
-#}
{{ config(materialized='table', tags=['tick']) }}
{#- A table, built once at the start of every tick: the ticks read it many times. -#}

with profiles as (
    select * from {{ ref('base_raw__profiles') }}
),

zones as (
    {{ timezone_names() }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by profile_id
            order by updated_at desc nulls last, email, phone, timezone, cast(attributes as string)
        ) as latest
    from profiles
    where problem is null
),

usable as (
    select * from ranked where latest = 1
),

final as (
    select
        profile_id,
        email,
        phone,
        case when timezone in (select name from zones) then timezone end as timezone,
        attributes,
        updated_at
    from usable
)

select * from final
