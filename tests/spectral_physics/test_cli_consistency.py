"""Every subcommand behaves alike: defaults in --help, plain help text, one spelling per option.

The parsers are enumerated from ``build_parser()`` (every entry point, sub-subcommands
included), so a new subcommand is checked without being listed here.
"""

from __future__ import annotations

import argparse
import re

import pytest

from spectral_physics.cli import CLIError, build_parser, check_output_dir, check_output_file, main


def _parsers(parser: argparse.ArgumentParser, name: str = "spectral-physics"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub, p in action.choices.items():
                yield from _parsers(p, f"{name} {sub}")


PARSERS = dict(_parsers(build_parser()))


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = parser._get_formatter()
    return formatter._expand_help(action) if action.help else ""


def _shown(default) -> list[str]:
    """Ways a default may be written in help text."""
    if isinstance(default, (list, tuple)):
        return [",".join(map(str, default)), " ".join(map(str, default))]
    if isinstance(default, float):
        return [str(default), f"{default:g}"]
    return [str(default)]


def test_every_subcommand_is_enumerated():
    names = {n.split()[1] for n in PARSERS if len(n.split()) > 1}
    assert {"train", "prune", "ntt", "symbolic", "reproduce", "eigenstats", "nodes", "homeostasis", "sweep",
            "experiment", "data"} <= names


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_defaults_are_shown_in_help(name):
    parser = PARSERS[name]
    missing = []
    for a in parser._actions:
        if a.help == argparse.SUPPRESS or a.nargs == 0 or a.default in (None, argparse.SUPPRESS):
            continue  # flags (store_true/false) and options without a default say nothing
        text = _help(parser, a)
        if not any(s in text for s in _shown(a.default)):
            missing.append(f"{'/'.join(a.option_strings) or a.dest}: default {a.default!r} not in {text!r}")
    assert missing == []


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_help_has_no_restructuredtext_markup(name):
    parser = PARSERS[name]
    texts = [parser.description or "", parser.epilog or ""] + [_help(parser, a) for a in parser._actions]
    texts += [a.help or "" for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            texts += [c.help or "" for c in action._choices_actions]
    bad = [t for t in texts if "``" in t or re.search(r":(func|class|mod|meth|data|attr):", t)]
    assert bad == []
    assert "``" not in parser.format_help()


def test_dataset_and_data_root_are_spelled_alike_everywhere():
    spellings = {}
    for name, parser in PARSERS.items():
        assert not parser.allow_abbrev, f"{name} accepts abbreviated options"
        for a in parser._actions:
            for opt in a.option_strings:
                if re.fullmatch(r"--data(set|sets|-root|_root|root|-dir|dir)?", opt) or opt == "--data":
                    spellings.setdefault(opt, []).append(name)
    assert set(spellings) <= {"--dataset", "--datasets", "--data-root"}, spellings
    # every command that reads a data set takes --data-root (sweep and reproduce through their specs)
    readers = [n for n, p in PARSERS.items()
               if any(o in ("--dataset", "--datasets") for a in p._actions for o in a.option_strings)]
    for name in readers:
        opts = {o for a in PARSERS[name]._actions for o in a.option_strings}
        assert "--data-root" in opts, name
    for name in ("spectral-physics sweep", "spectral-physics reproduce", "spectral-physics data where"):
        assert "--data-root" in {o for a in PARSERS[name]._actions for o in a.option_strings}, name


@pytest.mark.parametrize("argv", [
    ["prune", "model.npz", "--data", "mnist", "--out", "c.nc"],
    ["nodes", "model.npz", "--data", "mnist"],
    ["homeostasis", "model.npz", "--data", "mnist"],
    ["train", "--data", "mnist"],
    ["train", "--epoch", "2"],  # a prefix of --epochs: refused, not guessed
])
def test_no_abbreviations_and_a_suggestion(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unrecognized arguments" in err[0] and "did you mean --" in err[0], err


def test_output_files_are_checked_before_any_work(tmp_path):
    assert check_output_file(tmp_path / "new" / "x.nc", "--out", (".nc",)) == tmp_path / "new" / "x.nc"
    assert check_output_file(None, "--out", (".nc",)) is None
    with pytest.raises(CLIError, match=r"--out must end in \.nc"):
        check_output_file(tmp_path / "x.txt", "--out", (".nc",))
    (tmp_path / "folder.nc").mkdir()
    with pytest.raises(CLIError, match="is a folder"):
        check_output_file(tmp_path / "folder.nc", "--out", (".nc",))
    (tmp_path / "file").write_text("x")
    with pytest.raises(CLIError, match="is a file"):
        check_output_file(tmp_path / "file" / "x.nc", "--out", (".nc",))
    with pytest.raises(CLIError, match="is a file"):
        check_output_dir(tmp_path / "file", "--results")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    try:
        import os

        if os.access(locked, os.W_OK):  # root ignores permissions
            pytest.skip("running as a user that may write anywhere")
        with pytest.raises(CLIError, match="cannot write"):
            check_output_file(locked / "sub" / "x.npz", "--out", (".npz",))
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("argv, needle", [
    (["train", "--dataset", "teacher-student", "--sizes", "100,10", "--epochs", "1", "--out", "net.txt"],
     "--out must end in .npz"),
    (["ntt", "--dataset", "teacher-student", "--sizes", "100,10", "--density", "0.5", "--out", "n.nc"],
     "--out must end in .npz"),
    (["sweep", "spec.toml", "--out", "d.npz"], "--out must end in .nc"),
    (["reproduce", "--quick", "--out", "FILE"], "is a file"),
    (["experiment", "sparse", "--results", "FILE", "--out", "s.nc"], "--results"),
])
def test_commands_refuse_bad_outputs_at_once(argv, needle, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FILE").write_text("not a folder")
    (tmp_path / "spec.toml").write_text('dataset = "teacher-student"\n[axes]\nhidden = [4]\n')
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FILE", "spec.toml"]  # nothing written


def test_sweep_example_is_not_at_chance(tmp_path, data_root, monkeypatch, capsys):
    """`sweep --example` as printed: every preset, eigen included, well above chance (0.1)."""
    import xarray as xr

    monkeypatch.chdir(tmp_path)
    assert main(["sweep", "--example"]) == 0
    (tmp_path / "spec.toml").write_text(capsys.readouterr().out)
    assert main(["sweep", "spec.toml", "--out", "d.nc", "--workers", "1", "--no-progress",
                 "--data-root", str(data_root)]) == 0
    with xr.open_dataset(tmp_path / "d.nc") as ds:
        acc = ds.test_accuracy.mean("seed")
        assert set(ds.train.values) >= {"direct", "eigen"}
        assert float(acc.sel(train="eigen").min()) > 0.4, acc.values  # chance is 0.1; it was 0.10-0.12
        assert float(acc.sel(train="direct").min()) > 0.8, acc.values
