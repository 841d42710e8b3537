"""The epoch record beside a training checkpoint (``training_metadata.json``)."""

import json

from tfrnncomp.training import checkpoint_epoch


def test_a_written_epoch_reads_back_in_backup_and_restores_form(tmp_path):
    checkpoint_epoch.write_epoch(str(tmp_path), 977)
    assert checkpoint_epoch.read_epoch(str(tmp_path)) == 977
    assert json.loads((tmp_path / "training_metadata.json").read_text()) == {"epoch": 977,
                                                                              "batch": 0}


def test_writing_replaces_the_record_and_leaves_no_temporary_file(tmp_path):
    checkpoint_epoch.write_epoch(str(tmp_path), 3)
    checkpoint_epoch.write_epoch(str(tmp_path), 4)
    assert checkpoint_epoch.read_epoch(str(tmp_path)) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["training_metadata.json"]


def test_a_missing_or_unreadable_record_reads_as_none(tmp_path):
    assert checkpoint_epoch.read_epoch(str(tmp_path)) is None
    for text in ("{not json", '{"batch": 0}', '["epoch"]', '{"epoch": "x"}'):
        (tmp_path / "training_metadata.json").write_text(text)
        assert checkpoint_epoch.read_epoch(str(tmp_path)) is None, text
