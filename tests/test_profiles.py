from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from empathylab.cli import main
from empathylab.errors import ProfileError
from empathylab.profiles import Profile, available_profiles, load_profile


@pytest.mark.parametrize("name", ["demo", "paper"])
def test_shipped_profiles_load(name):
    profile = load_profile(name)
    assert isinstance(profile, Profile) and profile.name == name
    assert profile.output_path("/x") == Path("/x/results") / name


def test_demo_runs_on_embedded_models_and_paper_on_the_published_design():
    demo, paper = load_profile("demo"), load_profile("paper")
    assert all(m.startswith("embedded:") for m in demo.models.causal_lm)
    assert demo.stimuli.items_per_emotion is not None
    assert paper.stimuli.items_per_emotion is None
    assert len(paper.models.causal_lm) == 4 and len(paper.gaps.variations) == 7
    assert set(available_profiles()) >= {"demo", "paper"}


def _write(tmp_path: Path, content: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(content))
    return path


@pytest.mark.parametrize(
    "content, expected",
    [
        (
            {"name": "x", "modles": {}},
            r"unknown key 'modles' \(did you mean 'models'\?\); valid keys here: name, description",
        ),
        (
            {"name": "x", "models": {"causal": "m"}},
            r"unknown key 'models.causal'.*valid keys here: causal_lm, encoder",
        ),
        ({"name": "x", "seed": "zero"}, r"seed: Input should be a valid integer \(got 'zero'\)"),
        ({"name": "x", "seed": 1.5}, r"seed: Input should be a valid integer"),
        ({"name": "x", "device": "gpu"}, r"device: Input should be 'auto', 'cpu', 'cuda' or 'mps'"),
        (
            {"name": "x", "gaps": {"groupings": ["religon"]}},
            r"unknown grouping\(s\) religon; valid: religion, ethnicity, nationality",
        ),
        ({"name": "x", "gaps": {"variations": []}}, r"at least one variation"),
        (
            {"name": "x", "stimuli": {"items_per_emotion": 0}},
            r"stimuli.items_per_emotion: Input should be greater than or equal to 1",
        ),
        ({"name": "x", "models": {"causal_lm": []}}, r"models.causal_lm"),
        (
            {"name": "x", "gaps": {"second_readout": "distribution"}},
            r"gaps.second_readout: must differ from readout \(distribution\); valid: generate or null \(got 'distribution'\)",
        ),
        (
            {"name": "x", "gaps": {"readout": "generate", "second_readout": "generate"}},
            r"gaps.second_readout: must differ from readout \(generate\); valid: distribution or null",
        ),
        (
            {"name": "x", "gaps": {"second_readout": "logits"}},
            r"gaps.second_readout: unknown readout; valid: distribution, generate or null \(got 'logits'\)",
        ),
        (
            {"name": "x", "gaps": {"second_readout_groupings": ["religon"]}},
            r"gaps.second_readout_groupings: unknown grouping\(s\) religon; valid: religion, ethnicity, nationality",
        ),
        (
            {"name": "x", "gaps": {"second_readout_groupings": []}},
            r"gaps.second_readout_groupings: at least one grouping",
        ),
        (
            {"name": "x", "gaps": {"reading": {"range": "paper"}}},
            r"gaps.reading.range: Input should be 'scale' or 'authors' \(got 'paper'\)",
        ),
        (
            {"name": "x", "models": {"compared": ["embedded:gemma-3-270m"]}},
            r"models.compared: embedded:gemma-3-270m already in causal_lm \(which answers every design\)",
        ),
        (
            {"name": "x", "models": {"compared": ["m/x", "m/x"]}},
            r"models.compared: a model is listed twice",
        ),
        (
            {"name": "x", "gaps": {"compared_groupings": ["caste"]}},
            r"gaps.compared_groupings: unknown grouping\(s\) caste; valid: religion, ethnicity, nationality",
        ),
        (
            {"name": "x", "gaps": {"reading": {"rang": "scale"}}},
            r"unknown key 'gaps.reading.rang' \(did you mean 'range'\?\); valid keys here: range",
        ),
    ],
)
def test_bad_profiles_are_rejected_with_one_message(tmp_path, content, expected):
    path = _write(tmp_path, content)
    with pytest.raises(ProfileError, match=expected) as err:
        load_profile(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_name_defaults_to_the_file_stem_and_a_string_model_becomes_a_list(tmp_path):
    profile = load_profile(_write(tmp_path, {"models": {"causal_lm": "org/model"}}))
    assert profile.name == "mine" and profile.models.causal_lm == ["org/model"]


def test_non_mapping_and_invalid_yaml(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ProfileError, match="must hold a mapping"):
        load_profile(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(path)


def test_unknown_profile_name_suggests_and_lists():
    with pytest.raises(ProfileError, match=r"Unknown profile 'dmeo'. Did you mean 'demo'\?.*demo, paper"):
        load_profile("dmeo")


def test_overrides_are_validated_and_merge_sections():
    profile = load_profile("demo", seed=7, stimuli={"items_per_emotion": 3})
    assert (profile.seed, profile.stimuli.items_per_emotion) == (7, 3)
    assert profile.gaps == load_profile("demo").gaps
    with pytest.raises(ProfileError, match="seed"):
        load_profile("demo", seed="seven")


def test_profiles_are_frozen():
    with pytest.raises(ValidationError, match="frozen"):
        load_profile("demo").seed = 3  # type: ignore[misc]


def test_cli_profile_show_and_bad_profile(capsys, tmp_path):
    assert main(["profile", "show", "demo"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)
    assert shown == load_profile("demo").model_dump()
    assert main(["profile", "show", str(_write(tmp_path, {"seeed": 1}))]) == 2
    err = capsys.readouterr().err
    assert err.startswith("empathylab: error:") and "unknown key 'seeed'" in err
    assert len(err.strip().splitlines()) == 1


def test_the_paper_runs_its_own_readout_and_ours_as_the_second():
    paper, demo = load_profile("paper").gaps, load_profile("demo").gaps
    assert (paper.readout, paper.max_new_tokens, paper.reading.range) == ("generate", 128, "scale")
    assert paper.second_readout == "distribution"
    assert paper.second_readout_groupings == ["religion", "ethnicity", "nationality"]
    assert (demo.readout, demo.second_readout, demo.second_readout_groupings) == (
        "distribution",
        "generate",
        ["religion"],
    )


def test_reading_and_second_readout_defaults():
    gaps = Profile(name="x").gaps
    assert gaps.reading.range == "scale" and gaps.second_readout is None
    assert gaps.second_readout_groupings == ["religion", "ethnicity", "nationality"]
    assert load_profile("demo", gaps={"reading": {"range": "authors"}}).gaps.reading.range == "authors"


def test_cli_profile_show_paper_shows_the_readouts(capsys):
    assert main(["profile", "show", "paper"]) == 0
    shown = yaml.safe_load(capsys.readouterr().out)["gaps"]
    assert shown["readout"] == "generate" and shown["second_readout"] == "distribution"
    assert shown["reading"] == {"range": "scale"}
    assert shown["second_readout_groupings"] == ["religion", "ethnicity", "nationality"]


@pytest.mark.parametrize(
    "old, named",
    [
        ({"gaps": {"backend": "vllm"}}, "gaps.backend -> llm.backend"),
        (
            {"gaps": {"batch_size": 8, "api": {"concurrency": 2}}},
            "gaps.batch_size -> llm.batch_size; gaps.api",
        ),
        ({"dtype": "bfloat16"}, "dtype -> llm.dtype"),
    ],
)
def test_keys_that_moved_to_the_llm_section_get_one_message_naming_them(tmp_path, old, named):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"name": "old", **old}))
    with pytest.raises(ProfileError, match="moved to the llm: section") as err:
        load_profile(path)
    assert named in str(err.value) and str(path) in str(err.value)


def test_the_llm_section_is_read_by_both_parts():
    from empathylab.llm import backend_options

    profile = load_profile("demo", llm={"batch_size": 4, "dtype": "bfloat16"})
    assert backend_options(profile) == {"device": "cpu", "batch_size": 4, "dtype": "bfloat16"}
    assert profile.llmpathy.labelling.backend is None  # labelling follows llm.backend unless set
    assert load_profile("paper").llmpathy.labelling.backend == "vllm"


def test_the_demo_compares_an_instruction_model_and_the_paper_runs_all_its_models_everywhere():
    demo, paper = load_profile("demo"), load_profile("paper")
    assert demo.models.causal_lm == ["embedded:gemma-3-270m"]
    assert demo.models.compared == ["embedded:smollm2-135m-instruct"] and demo.gaps.compared_groupings == [
        "religion"
    ]
    assert paper.models.compared == [] and len(paper.models.causal_lm) == 4
