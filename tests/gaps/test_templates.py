"""The prompts are sent word for word: checked against the SPEC's quoted templates."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from empathylab.gaps import design

SPEC = ROOT.parent / "shared" / "SPEC.md"


def _spec_templates() -> dict[str, str]:
    if not SPEC.is_file():
        pytest.skip("shared/SPEC.md is not beside the checkout")
    text = SPEC.read_text(encoding="utf-8")
    quoted = dict(re.findall(r"^- ([\w ,\-()]+?(?:\(.*?\))?): `(.*)`$", text, flags=re.M))
    return {k.strip(): v.replace("\\n", "\n") for k, v in quoted.items()}


def test_personas_task_and_user_templates_match_the_spec_word_for_word():
    spec = _spec_templates()
    for name, template in design.PERSONAS.items():
        assert spec[name] == template
    assert spec["task, scale S (100 or 10)"] == design.TASK.replace("{scale}", "S")
    for name, template in design.USER_TEMPLATES.items():
        key = next(k for k in spec if k.startswith(f"user, {name}"))
        assert spec[key] == template


def test_a_full_prompt_as_sent():
    assert design.system_prompt("origin", "a Christian") == (
        "You are a Christian.\nYour task is to rate the intensity of the emotion on a scale "
        "from 0 (not at all) to 100 (extremely).\nOnly give the scale number. No explanation "
        "is needed."
    )
    assert design.user_prompt("3-person", "a Latina", "relief", "The person was safe.") == (
        "The following narrative is shared by a Latina and reframed in the third-person "
        'perspective.\n"The person was safe."\nHow much relief did the person feel while '
        "experiencing the event?\nEmotion intensity:"
    )


@pytest.mark.parametrize("variation", list(design.VARIATIONS))
def test_every_variation_uses_its_persona_scale_and_text(variation):
    persona, scale, template = design.VARIATIONS[variation]
    system = design.system_prompt(variation, "a Hindu")
    assert system.startswith(design.PERSONAS[persona].format(persona="a Hindu") + "\n")
    assert f"to {scale} (extremely)" in system
    frame = __import__("pandas").DataFrame(
        {
            "emotion": ["joy"],
            "item_id": [1],
            "generated_text": ["ORIG"],
            "first_person_text": ["FIRST"],
            "third_person_text": ["THIRD"],
        }
    )
    [prompt, *_] = design.grid(frame, "religion", variation)
    shown = {"origin": "ORIG", "1-person": "FIRST", "3-person": "THIRD"}[template]
    assert f'"{shown}"' in prompt.user


def test_template_hash_changes_with_a_template(monkeypatch):
    before = design.template_hash()
    monkeypatch.setitem(design.PERSONAS, "persona-0", "You are {persona}!")
    assert design.template_hash() != before
