with records as (
    select * from {{ ref('int_journey_records') }}
),

final as (
    select
        journey_id,
        entry_id,
        profile_id,
        goal_id,
        logical_at as completed_at,
        tick_at,
    from records
    where record = 'goal'
)

select * from final
