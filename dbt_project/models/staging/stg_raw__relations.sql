with relations as (
    select * from {{ source('raw', 'relations') }}
),

final as (
    select
        cast(from_id as varchar) as from_id,
        cast(to_id as varchar) as to_id,
        cast(relation as varchar) as relation,
    from relations
)

select * from final
