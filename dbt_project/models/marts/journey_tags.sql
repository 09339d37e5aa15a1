with records as (
    select * from {{ ref('int_journey_records') }}
),

final as (
    select
        profile_id,
        tag,
        journey_id,
        logical_at as tagged_at,
        removed,
        entry_id,
        coalesce(path_id, entry_id) as path_id,
        tick_at,
    from records
    where record = 'tag'
)

select * from final
