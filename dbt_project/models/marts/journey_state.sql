{#- Current position of every path of a journey entry (one, or one per branch an all_matches split took): the
    latest position record of its history. -#}
with records as (
    select * from {{ ref('int_journey_records') }}
),

positions as (
    select *
    from records
    where record = 'position'
    qualify row_number() over (partition by journey_id, coalesce(path_id, entry_id) order by tick_at desc) = 1
),

final as (
    select
        journey_id,
        version,
        profile_id,
        entry_id,
        coalesce(path_id, entry_id) as path_id,
        node_id,
        logical_at as node_entered_at,
        status,
        ab_group,
        entry_at,
        tick_at as updated_tick_at,
    from positions
)

select * from final
