"""Reading the published outputs: a folder written before append-only tables were published as parts (a
single `<table>.parquet` each) still opens; those tables read as empty until the next tick publishes them."""

from __future__ import annotations

import json

import duckdb

from journey_compiler.runtime.publish import MANIFEST, published_dir
from journey_compiler.show.outputs import open_outputs, published_as_of, rows


def test_a_folder_of_the_older_layout_still_opens(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    folder = published_dir(warehouse)
    folder.mkdir()
    with duckdb.connect() as con:
        for table in ("journey_state", "journey_transitions"):
            con.execute(f"copy (select 'e1' as entry_id) to '{folder / table}.parquet' (format parquet)")
    manifest = {"tables": ["journey_state", "journey_transitions"], "as_of_tick": "2026-03-02T06:00:00"}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    with open_outputs(warehouse) as con:
        assert rows(con, "select entry_id from journeys.journey_state") == [{"entry_id": "e1"}]
        assert rows(con, "select * from journeys.journey_transitions") == []
    assert published_as_of(warehouse).isoformat() == "2026-03-02T06:00:00"
