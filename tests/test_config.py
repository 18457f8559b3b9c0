"""config.yaml: the shipped file equals the defaults; mistakes name the key; --config/--db override."""
from __future__ import annotations

from pathlib import Path

import pytest

from checker import config as config_mod
from checker.errors import ConfigError
from govwatch.cli import Context, build_parser

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_config_equals_the_defaults():
    shipped = config_mod.load(ROOT / "config.yaml")
    assert shipped == config_mod.Config(source=str(ROOT / "config.yaml"))


def write(tmp_path, text):
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        config_mod.load(write(tmp_path, "telegram:\n  rate_limit:\n    overall_per_sec: 3\n"))
    assert "telegram.rate_limit.overall_per_sec" in str(e.value)


def test_a_wrong_type_is_named(tmp_path):
    with pytest.raises(ConfigError) as e:
        config_mod.load(write(tmp_path, "findings:\n  rebound_window_days: soon\n"))
    assert "findings.rebound_window_days" in str(e.value)


def test_bad_yaml_names_the_line(tmp_path):
    with pytest.raises(ConfigError) as e:
        config_mod.load(write(tmp_path, "database: a.db\ntimezone: [\n"))
    assert "config.yaml:" in str(e.value)


def test_unknown_timezone_is_refused(tmp_path):
    with pytest.raises(ConfigError) as e:
        config_mod.load(write(tmp_path, "timezone: Mars/Olympus\n"))
    assert "timezone" in str(e.value)


def test_values_are_parsed_into_dataclasses(tmp_path):
    cfg = config_mod.load(write(tmp_path, 'calendar:\n  halls:\n    330102H: {extra_holidays: ["2026-10-12"]}\n'))
    assert cfg.calendar.halls["330102H"].extra_holidays == ("2026-10-12",)


def test_config_and_db_options_override(tmp_path):
    path = write(tmp_path, f"database: {tmp_path / 'from-config.db'}\ntimezone: Asia/Chongqing\n")
    ns = build_parser().parse_args(["--config", str(path), "import", "orgs", "x.csv"])
    assert Context(ns).config.database == str(tmp_path / "from-config.db")
    ns = build_parser().parse_args(["--config", str(path), "--db", "other.db", "import", "orgs", "x.csv"])
    ctx = Context(ns)
    assert (ctx.config.database, ctx.config.timezone) == ("other.db", "Asia/Chongqing")


def test_a_broken_config_exits_2_naming_the_key(tmp_path, capsys):
    from govwatch.cli import main
    path = write(tmp_path, "nonsense: 1\n")
    assert main(["--config", str(path), "import", "orgs", "x.csv"]) == 2
    assert "nonsense" in capsys.readouterr().err


def test_the_province_chooses_the_standard_enforced(tmp_path):
    from checker import config as config_mod
    from checker.rules.holder import RulesHolder
    path = tmp_path / "config.yaml"
    path.write_text("province: 浙江\n", encoding="utf-8")
    zhejiang = config_mod.load(path)
    assert zhejiang.enforced_packs == ("db33",)
    assert {p.short for p in RulesHolder.from_config(zhejiang).rulebook.packs} == {"db33"}
    path.write_text("province: chongqing\npacks: [db33, db50]\n", encoding="utf-8")
    assert config_mod.load(path).enforced_packs == ("db33", "db50")            # packs, when set, wins
    assert config_mod.load(None).enforced_packs is None                         # no province: every pack
    path.write_text("province: 江苏\n", encoding="utf-8")
    import pytest
    from checker.errors import ConfigError
    with pytest.raises(ConfigError, match="province"):
        config_mod.load(path)
