with occurrences as (
    select * from {{ source('control', 'schedule_occurrences') }}
),

final as (
    select
        journey_id,
        occurrence_at
    from occurrences
)

select * from final
