{#- Each relation once: a repeated row would send a subject-converted message twice. -#}
with relations as (
    select * from {{ ref('base_raw__relations') }}
),

final as (
    select distinct
        from_id,
        to_id,
        relation
    from relations
    where problem is null
)

select * from final
