"""`journeys estimate`: how many profiles a segment holds, and how many reach a journey's node on each path.

`paths` walks the journey's plan to the node and says what each hop on the way requires; `query` turns that
into one SQL query over the tables the ticks read, through the tick's own segment compiler; `run` asks the
warehouse. Estimates count profiles, not entries.
"""
