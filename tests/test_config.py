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


# -- the default packs follow the province the org codes show (issue 14 item 2) ----------------------

def _orgs(store, *codes):
    for code in codes:
        store.conn.execute("INSERT INTO orgs (code, name, level) VALUES (?, ?, 'city')", (code, f"机构{code}"))


def test_with_neither_set_zhejiang_org_codes_enforce_db33(tmp_path):
    from checker import config as config_mod
    from checker.rules import load_configured
    from checker.rules.choice import choose_packs
    from checker.rules.holder import RulesHolder
    from checker.store import Store
    cfg = config_mod.load(None, database=str(tmp_path / "g.db"))
    store = Store(cfg.database)
    _orgs(store, "330100", "330102", "330102001")
    choice = choose_packs(cfg, store)
    assert choice.packs == ("db33",) and choice.warning is None and "33" in choice.reason and "浙江" in choice.reason
    assert {p.short for p in load_configured(cfg, store).packs} == {"db33"}
    assert {p.short for p in RulesHolder.from_config(cfg, store).rulebook.packs} == {"db33"}
    store.close()


def test_with_neither_set_chongqing_org_codes_enforce_db50(tmp_path):
    from checker import config as config_mod
    from checker.rules.choice import choose_packs
    from checker.store import Store
    cfg = config_mod.load(None, database=str(tmp_path / "g.db"))
    store = Store(cfg.database)
    _orgs(store, "500000", "500103", "50010300X")
    assert choose_packs(cfg, store).packs == ("db50",)
    store.close()


def test_mixed_or_no_orgs_enforce_every_pack_and_warn_what_to_set(tmp_path):
    from checker import config as config_mod
    from checker.rules import load_configured
    from checker.rules.choice import choose_packs
    from checker.store import Store
    cfg = config_mod.load(None, database=str(tmp_path / "g.db"))
    store = Store(cfg.database)
    none = choose_packs(cfg, store)
    assert none.packs is None and "尚无" in none.warning and "province: zhejiang" in none.warning
    _orgs(store, "330100", "500103")
    mixed = choose_packs(cfg, store)
    assert mixed.packs is None and "33（浙江）、50（重庆）" in mixed.warning
    assert "province: chongqing" in mixed.warning and "packs" in mixed.warning
    assert {p.short for p in load_configured(cfg, store).packs} == {"db33", "db50"}
    store.close()


def test_province_and_packs_override_the_org_codes(tmp_path):
    from checker import config as config_mod
    from checker.rules.choice import choose_packs
    from checker.store import Store
    store = Store(str(tmp_path / "g.db"))
    _orgs(store, "330100")
    chongqing = config_mod.load(None, province="chongqing")
    assert choose_packs(chongqing, store).packs == ("db50",) and not choose_packs(chongqing, store).warning
    both = config_mod.load(None, packs=["db33", "db50"])
    assert choose_packs(both, store).packs == ("db33", "db50") and "packs" in choose_packs(both, store).reason
    store.close()


def test_scan_warns_on_stderr_when_it_cannot_tell_the_province(tmp_path, capsys, monkeypatch):
    from checker.store import Store
    from govwatch.cli import main
    monkeypatch.chdir(tmp_path)                  # no config.yaml: neither province nor packs
    db = str(tmp_path / "g.db")
    store = Store(db)
    _orgs(store, "330100", "500103")
    store.close()
    assert main(["--db", db, "scan", "--now", "2026-10-14T09:00"]) == 0
    err = capsys.readouterr().err
    assert "执行全部规则包" in err and "province: zhejiang" in err


def test_serve_warns_and_enforces_the_inferred_pack(tmp_path, capsys, monkeypatch):
    import govwatch.commands.serve as serve_cmd
    from checker.store import Store
    from govwatch.cli import main
    monkeypatch.chdir(tmp_path)
    seen = []
    monkeypatch.setattr(serve_cmd, "run_service", lambda cfg, holder: seen.append(holder) or 0)
    db = str(tmp_path / "g.db")
    store = Store(db)
    _orgs(store, "330100", "500103")
    store.close()
    assert main(["--db", db, "serve"]) == 0
    assert "执行全部规则包" in capsys.readouterr().err and seen[-1].packs is None
    store = Store(db)
    store.conn.execute("DELETE FROM orgs WHERE code = '500103'")
    store.close()
    assert main(["--db", db, "serve"]) == 0
    assert "警告" not in capsys.readouterr().err and seen[-1].packs == ("db33",)
