"""The govwatch shell: clear errors, exit codes, and a closed pipe that ends quietly."""
from __future__ import annotations

import sys

from govwatch.cli import main


def test_a_bad_now_is_a_one_line_chinese_error_with_exit_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--db", str(tmp_path / "g.db"), "scan", "--now", "yesterday"]) == 2
    err = capsys.readouterr().err
    assert "--now 不是 ISO 8601 时间" in err and "Traceback" not in err


def test_a_bad_config_key_is_named_with_exit_2(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("databse: x.db\n", encoding="utf-8")
    assert main(["--config", str(cfg), "findings"]) == 2
    assert "databse" in capsys.readouterr().err


class _ClosedPipe:
    """stdout whose reader has gone away (`govwatch … --json | head`)."""

    def __init__(self, path):
        self.file = open(path, "w")

    def fileno(self):
        return self.file.fileno()

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_json_output_into_a_closed_pipe_ends_quietly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdout", _ClosedPipe(tmp_path / "out.txt"))
    assert main(["--db", str(tmp_path / "g.db"), "rules", "list", "--json"]) == 0
