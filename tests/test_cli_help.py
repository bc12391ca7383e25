"""`nndsl --help` and each command's --help say what every argument means, with examples that parse."""

from __future__ import annotations

import argparse
import shlex

import pytest

from nndsl.cli import main, make_parser

COMMANDS = ("check", "summary", "compile", "train", "export", "fmt", "lsp")


def help_text(capsys, *argv: str) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return action.choices


def test_the_top_level_help_lists_the_commands_and_examples(capsys):
    text = help_text(capsys)
    assert all(f"\n    {name}" in text for name in COMMANDS)
    assert "\nexamples:\n  nndsl check " in text and "nndsl COMMAND --help" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_argument_of_every_command_says_what_it_means(command, capsys):
    parser = subparsers(make_parser())[command]
    for action in parser._actions:
        assert action.help, f"nndsl {command}: {action.option_strings or action.dest} has no help"
    text = help_text(capsys, command)
    assert parser.description and parser.description.split()[0] in text
    assert "\nexamples:\n  " in text
    if command not in ("fmt", "lsp"):
        assert "a spec file (*.nn)" in text  # what SPEC is
    if command in ("compile", "train"):
        assert "BACKEND is numpy" in text and "TARGET is auto" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_the_examples_are_command_lines_nndsl_accepts(command):
    """Each example in the help parses as it is written, so the help cannot drift from the options."""
    parsers = {"nndsl": make_parser(), **subparsers(make_parser())}
    epilog = parsers[command].epilog + "\n" + parsers["nndsl"].epilog
    lines = [line.strip().split("  #")[0] for line in epilog.splitlines() if line.strip().startswith("nndsl ")]
    examples = [line for line in lines if shlex.split(line)[1] == command]
    assert examples, command
    for line in examples:
        words = ["x.nn" if "*" in w else w for w in shlex.split(line.split(">")[0])[1:]]  # (a glob)
        args = parsers["nndsl"].parse_args(words)
        assert args.command == command, line
