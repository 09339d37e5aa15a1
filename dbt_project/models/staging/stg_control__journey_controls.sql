with journey_controls as (
    select * from {{ source('control', 'journey_controls') }}
),

final as (
    select
        journey_id,
        action,
        effective_at,
        value,
        recorded_at
    from journey_controls
)

select * from final
