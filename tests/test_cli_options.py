"""Every numeric option of every command is checked while the arguments are parsed.

0, a negative number and a non-number go to each one: a value out of range ends in one
line on stderr and exit code 2, before anything runs.  Plus the option objects' own
errors, and what an install without the [train] extra says.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys

import pytest

from fakeface.edge.cli import build_parser, main
from fakeface.edge.cli_numbers import NumberOption, face_pixels, working_pixels
from fakeface.edge.errors import FakeFaceError, OptionsError

HAS_TENSORFLOW = importlib.util.find_spec("tensorflow") is not None


def subcommands(parser: argparse.ArgumentParser, prefix=()):
    """(argv prefix, parser) of every command that runs something, sub-reports included.

    A command with sub-commands that also runs by itself (``bench``, ``export``) counts
    too, and so do the parsers ``export`` hands its sub-commands to (``export kit``)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    attached = getattr(parser, "attached_parsers", {})
    if (not subs and not attached) or parser.get_default("func") is not None:
        yield prefix, parser
    children = {**(subs[0].choices if subs else {}), **attached}
    for name, sub in children.items():
        yield from subcommands(sub, prefix + (name,))


def placeholder_args(parser: argparse.ArgumentParser) -> list[str]:
    """Values for the positionals and required options, so only the option under test can fail."""
    argv = []
    for action in parser._actions:
        if not action.option_strings and action.nargs != argparse.PARSER:
            argv.append("x")
        elif action.required:
            argv += [action.option_strings[0], "x"]
    return argv


def numeric_options():
    for prefix, parser in subcommands(build_parser()):
        for action in parser._actions:
            kind = action.type
            if kind in (int, float) or isinstance(kind, NumberOption):
                yield pytest.param(prefix, parser, action, id=f"{' '.join(prefix)} {action.option_strings[0]}")


NUMERIC_OPTIONS = list(numeric_options())


def test_the_commands_have_numeric_options_to_check():
    ids = {p.id for p in NUMERIC_OPTIONS}
    for expected in ("check --min-face", "check --max-pixels", "check --threads", "watch --window",
                     "watch --threads", "watch --min-face", "watch --retries", "train --epochs",
                     "evaluate --threshold", "generalise leave-one-out --limit", "export --calib-count",
                     "export --min-agreement", "export --auto-float", "export kit --threads", "bench --runs",
                     "bench --seconds", "bench --warmup", "bench --peak-gflops", "bench targets --runs"):
        assert expected in ids


@pytest.mark.parametrize("prefix, parser, action", NUMERIC_OPTIONS)
def test_numeric_option_refuses_bad_values_at_parse_time(prefix, parser, action, capsys):
    kind = action.type
    assert isinstance(kind, NumberOption), f"{action.option_strings[0]} is a plain {kind.__name__}: unchecked"
    option = action.option_strings[0]
    base = [*prefix, *placeholder_args(parser)]
    for value in ("0", "-1", "abc", "nan"):
        allowed = value not in ("abc", "nan") and kind.accepts(kind.kind(value))
        if allowed:  # parse only: running it would train, export or open a camera
            build_parser().parse_args([*base, option, value])
            continue
        with pytest.raises(SystemExit) as stop:
            main([*base, option, value])
        # Only the parser's own line: a test run's garbage collection may print to stderr
        # too (test_bad_option_exits_2_in_a_real_process checks the whole stderr).
        ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fakeface ")]
        assert stop.value.code == 2, (option, value)
        assert len(ours) == 1 and f"error: argument {option}: " in ours[0], ours
    assert kind.accepts(kind(str(action.default))) if action.default is not None else True


@pytest.mark.parametrize("argv", [
    ["bench", "--threads", "0"], ["bench", "--threads", "1,-2"], ["bench", "--threads", "abc"],
    ["bench", "--threads", ","], ["bench", "--min-face", "20,5"], ["bench", "--min-face", "0"],
    ["bench", "--min-face", "x"], ["bench", "--sizes", "0x0"], ["bench", "--sizes", "640"], ["bench", "--sizes", ","],
])
def test_bench_list_options_refuse_bad_values_at_parse_time(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    ours = [line for line in capsys.readouterr().err.splitlines() if line.startswith("fakeface ")]
    assert stop.value.code == 2
    assert len(ours) == 1 and ours[0].startswith(f"fakeface bench: error: argument {argv[1]}: "), ours


def test_bench_list_options_keep_their_values():
    args = build_parser().parse_args(["bench", "--threads", "2,1,2", "--min-face", "12,80", "--sizes", "640x480"])
    assert (args.threads, args.min_face, args.sizes) == ([1, 2], [12, 80], [(640, 480)])
    assert build_parser().parse_args(["bench"]).min_face == [20, 80]


def test_auto_float_alone_means_two_layers_and_zero_means_off():
    parse = build_parser().parse_args
    base = ["export", "m.keras", "--out", "d", "--eval", "e"]
    assert (parse(base).auto_float, parse([*base, "--auto-float"]).auto_float,
            parse([*base, "--auto-float", "0"]).auto_float) == (0, 2, 0)


def test_bad_option_exits_2_in_a_real_process():
    for argv in (["check", "--min-face", "0", "x.jpg"], ["watch", "--source", "0", "--window", "-1"],
                 ["check", "--max-pixels", "-1", "x.jpg"], ["watch", "--source", "0", "--threads", "0"],
                 ["export", "m.keras", "--out", "d", "--eval", "e", "--min-agreement", "150"],
                 ["export", "kit", "d", "--threads", "0"], ["bench", "--runs", "0"],
                 ["bench", "targets", "--runs", "-1"]):
        proc = subprocess.run([sys.executable, "-m", "fakeface.edge.cli", *argv], capture_output=True, text=True,
                              timeout=120)
        assert proc.returncode == 2, (argv, proc.stderr)
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_number_option_reads_like_its_rule():
    with pytest.raises(argparse.ArgumentTypeError, match="at least 12, not 0"):
        face_pixels("0")
    with pytest.raises(argparse.ArgumentTypeError, match="expected an integer"):
        face_pixels("1.5")
    share = NumberOption(float, 0.0, 1.0, low_open=True)
    assert share("1") == 1.0 and not share.accepts(0.0)
    for bad in ("inf", "-inf", "nan"):
        with pytest.raises(argparse.ArgumentTypeError):
            share(bad)


def test_cli_limits_match_the_runtime_limits():
    from fakeface.edge.checker_options import SMALLEST_MIN_FACE, SMALLEST_WORKING_PIXELS
    from fakeface.edge.mtcnn.pyramid import CELL_SIZE
    from fakeface.edge.working_image import DEFAULT_WORKING_PIXELS

    assert face_pixels.low == SMALLEST_MIN_FACE == CELL_SIZE
    assert working_pixels.low == SMALLEST_WORKING_PIXELS
    check_help = build_parser()._subparsers._group_actions[0].choices["check"].format_help()
    assert f"(default: {DEFAULT_WORKING_PIXELS})" in " ".join(check_help.split())


@pytest.mark.parametrize("settings", [
    {"min_face_size": 0}, {"min_face_size": -5}, {"min_face_size": 11}, {"min_face_size": float("nan")},
    {"threads": 0}, {"max_pixels": -1}, {"max_faces": 0}, {"threshold": 1.5}, {"working_pixels": 1000},
])
def test_checker_options_raise_the_projects_own_error(settings):
    from fakeface.edge.pipeline import CheckerOptions, FakeFaceChecker

    with pytest.raises(OptionsError) as err:
        FakeFaceChecker(CheckerOptions(**settings))  # refused before any model is loaded
    assert isinstance(err.value, FakeFaceError) and "\n" not in str(err.value)
    assert next(iter(settings)) in str(err.value)


def test_detector_settings_are_not_silently_overwritten():
    from fakeface.edge.mtcnn.detector import DetectorOptions
    from fakeface.edge.pipeline import CheckerOptions

    with pytest.raises(OptionsError, match="set min_face_size on CheckerOptions"):
        CheckerOptions(min_face_size=40, detector=DetectorOptions(min_face_size=60)).validate()
    with pytest.raises(OptionsError, match="detector: scale_factor"):
        CheckerOptions(detector=DetectorOptions(scale_factor=1.5)).validate()
    opts = CheckerOptions(min_face_size=40, threads=1, detector=DetectorOptions(thresholds=(0.5, 0.6, 0.7)))
    opts.validate()
    inner = opts.detector_options()
    assert (inner.min_face_size, inner.threads, inner.thresholds) == (40, 1, (0.5, 0.6, 0.7))


def test_extras_are_read_from_the_package_metadata():
    from fakeface.edge.extras import extra_providing

    assert extra_providing("tensorflow") == "train"  # through tensorflow-cpu
    assert extra_providing("tensorflow.keras") == "train"
    assert extra_providing("onnx") == "train"
    assert extra_providing("onnxruntime") == "edge"
    assert extra_providing("no_such_module_anywhere") is None


@pytest.mark.skipif(HAS_TENSORFLOW, reason="TensorFlow is installed: this is not an [edge] install")
def test_edge_install_says_which_extra_a_command_needs(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    listing = capsys.readouterr().out
    for command in ("train", "export"):  # calibrate runs on .tflite/.onnx without it (test_help_marks.py)
        line = next(l for l in listing.splitlines() if l.strip().startswith(command))
        rest = listing[listing.index(line):listing.index(line) + 200]
        assert 'needs: pip install "fakeface[train]"' in " ".join(rest.split()), command
    check_line = next(l for l in listing.splitlines() if l.strip().startswith("check"))
    assert "needs" not in check_line
    code = main(["train", "x", "--out", "y"])
    err = capsys.readouterr().err
    assert code == 2 and 'needs: pip install "fakeface[train]"' in err and "Traceback" not in err


def test_evaluate_scores_every_photo_unless_the_data_are_crops():
    from fakeface.train.cli.evaluate import evaluate_split

    assert evaluate_split(None, cropped=False)[0] == "all"
    split, note = evaluate_split(None, cropped=True)
    assert split == "test" and "held-out" in note
    assert evaluate_split("val", cropped=False) == ("val", "")


def test_every_command_and_sub_command_prints_its_help():
    """argparse formats help lazily: a stray '%' in any help text only fails when --help runs."""
    def walk(parser, path):
        yield path, parser
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, path + [name])

    seen = 0
    for path, parser in walk(build_parser(), []):
        text = parser.format_help()
        assert text.startswith("usage:"), path
        seen += 1
    assert seen > 10
