{#- Every raw relation, typed, with the reason it cannot be used (NULL when it can). -#}
with relations as (
    select * from {{ source('raw', 'relations') }}
),

typed as (
    select
        {{ text_or_null('from_id') }} as from_id,
        {{ text_or_null('to_id') }} as to_id,
        {{ text_or_null('relation') }} as relation
    from relations
),

final as (
    select
        *,
        concat_ws(' / ', coalesce(from_id, '?'), coalesce(relation, '?'), coalesce(to_id, '?')) as row_key,
        case
            when from_id is null then 'from_id is missing'
            when to_id is null then 'to_id is missing'
            when relation is null then 'relation is missing'
        end as problem
    from typed
)

select * from final
