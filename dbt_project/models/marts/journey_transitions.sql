with records as (
    select * from {{ ref('int_journey_records') }}
),

final as (
    select
        tick_at,
        logical_at,
        journey_id,
        entry_id,
        coalesce(path_id, entry_id) as path_id,
        profile_id,
        from_node,
        node_id as to_node,
        branch,
        reason,
        ab_group,
        version,
    from records
    where record = 'transition'
)

select * from final
