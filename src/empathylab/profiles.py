"""Run profiles: the YAML files in ``params/`` that fix models, sizes, seeds and outputs.

The CLI, the notebooks and the tests all read profiles through :func:`load_profile`,
which rejects unknown keys and wrong types with one message naming the file, the key
and what is valid.
"""

from __future__ import annotations

import difflib
import reprlib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from empathylab.errors import ProfileError

__all__ = ["Profile", "MOVED_KEYS", "load_profile", "profile_dir", "available_profiles"]


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Models(_Section):
    """Which models a run uses: a spec is ``embedded:NAME``, a local folder or a hub id."""

    causal_lm: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        default_factory=lambda: ["embedded:gemma-3-270m"], min_length=1
    )
    encoder: str = "embedded:all-MiniLM-L6-v2"
    compared: Annotated[list[str], BeforeValidator(_as_list)] = Field(default_factory=list)
    """More causal LMs, asked only where the book compares models: the model comparison and
    the readout comparison (``gaps.compared_groupings`` under the first variation), the human
    anchor and Part II's labelling. Every design of the book asks ``causal_lm``."""

    @field_validator("compared")
    @classmethod
    def _not_twice(cls, value: list[str], info: ValidationInfo) -> list[str]:
        both = [m for m in value if m in info.data.get("causal_lm", [])]
        if both:
            raise ValueError(f"{', '.join(both)} already in causal_lm (which answers every design)")
        if len(set(value)) < len(value):
            raise ValueError("a model is listed twice")
        return value


class Stimuli(_Section):
    """Which crowd-enVent narratives a run uses."""

    items_per_emotion: int | None = Field(default=None, ge=1)
    """Narratives drawn per emotion (reproducibly from the profile's seed); null = all."""
    anchor_items_per_emotion: int | None = Field(default=10, ge=0)
    """Human-anchor run (chapter What humans say): narratives with readers drawn per emotion
    and asked the baseline prompt only; null = all 1,100 with readers, 0 = no such run."""


class Api(_Section):
    """An OpenAI-compatible endpoint (backend ``openai``); the key comes from the environment."""

    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = Field(default=8, ge=1)
    timeout: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    top_logprobs: int = Field(default=20, ge=1)
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Sent with every request when set; Part II's labelling uses 0.01 when it is unset."""


class Vllm(_Section):
    """vLLM engine settings (backend ``vllm``, GPU)."""

    tensor_parallel_size: int = Field(default=1, ge=1)
    gpu_memory_utilization: float = Field(default=0.9, gt=0, le=1)
    max_model_len: int | None = Field(default=None, ge=1)
    top_logprobs: int = Field(default=64, ge=1)


class Fake(_Section):
    """The fake backend (``llm.backend: fake``): seeded answers for tests and teaching."""

    in_group_effect: float = Field(default=0.0, ge=-1, le=1)
    """Planted in-group effect as a share of the scale: in-group prompts are rated this much
    higher (0.1 = 10 points on a 0–100 scale), so an analysis should find δ > 0."""
    refusal_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of generate answers that are refusals (the distribution readout never refuses)."""
    noise: float = Field(default=0.15, ge=0, le=1)
    """Spread of the answers as a share of the scale (standard deviation)."""


class Ray(_Section):
    """The Ray engine (``--engine ray``): where the cluster is and how its workers are sized."""

    address: str | None = None
    """The cluster to join (``auto``, ``ray://head:10001``); null starts a local one."""
    workers: int | None = Field(default=None, ge=1)
    """Worker actors; null: one per GPU share (``num_gpus`` > 0), else one per ``num_cpus``."""
    num_cpus: float = Field(default=1.0, gt=0)
    """CPUs each worker holds (and its torch threads)."""
    num_gpus: float = Field(default=0.0, ge=0)
    """GPUs each worker holds: 1 for one per GPU, 0.5 for two per GPU, 0 on CPUs."""
    retries: int = Field(default=2, ge=0, le=100)
    """Attempts after the first for a chunk whose worker failed or died; then it is reported."""


class Llm(_Section):
    """The shared LLM layer: which backend answers, and how; both parts read it."""

    backend: Literal["transformers", "vllm", "openai", "fake"] = "transformers"
    batch_size: int = Field(default=16, ge=1)
    """Prompts per forward pass (transformers backend)."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """auto: float32 on a CPU, the checkpoint's own precision on a GPU."""
    api: Api = Field(default_factory=Api)
    vllm: Vllm = Field(default_factory=Vllm)
    fake: Fake = Field(default_factory=Fake)
    ray: Ray = Field(default_factory=Ray)


#: Keys that moved to the ``llm:`` section (profile files written before it existed).
MOVED_KEYS = {
    ("gaps", "backend"): "llm.backend",
    ("gaps", "batch_size"): "llm.batch_size",
    ("gaps", "api"): "llm.api",
    ("gaps", "vllm"): "llm.vllm",
    ("dtype",): "llm.dtype",
}


class Reading(_Section):
    """How the generate readout reads a response (:mod:`empathylab.gaps.reading`)."""

    range: Literal["scale", "authors"] = "scale"
    """scale: answers in [0, S], the paper's text; authors: [0, 100] on every scale, as
    the authors' analysis code reads them. The distribution readout always reads 0..S."""


class Beyond(_Section):
    """Part III, beyond the paper: the designs of its three experiments."""

    perspective_groupings: list[str] = Field(default_factory=lambda: ["religion"])
    """Groupings asked under ``origin`` and the four perspective-taking variations."""
    intersectional_narratives: int | None = Field(default=None, ge=2)
    """Narratives of the race x religion design (the first of the profile's sample; null = all)."""
    model_pairs: list[Annotated[list[str], Field(min_length=2, max_length=2)]] = Field(default_factory=list)
    """(base, instruction-tuned) model pairs compared on the origin design with the
    distribution readout; the first model of a pair is the reference."""
    n_boot: int = Field(default=2000, ge=100, le=100_000)
    """Paired bootstrap resamples of narratives for Δδ."""

    @field_validator("perspective_groupings")
    @classmethod
    def _known_groupings(cls, value: list[str]) -> list[str]:
        from empathylab.gaps.design import GROUPINGS

        return _check_names(value, GROUPINGS, "grouping")


class Gaps(_Section):
    """Part I: the intergroup empathy-gap design and how it is run."""

    groupings: list[str] = Field(default_factory=lambda: ["religion", "ethnicity", "nationality"])
    variations: list[str] = Field(default_factory=lambda: ["origin"])
    variation_groupings: list[str] = Field(default_factory=lambda: ["religion", "ethnicity", "nationality"])
    """Groupings asked under every prompt variation in the chapter on prompt variations."""
    identities: dict[str, list[str]] = Field(default_factory=dict)
    """Optional subsets of identities per grouping (the baseline is kept only if listed)."""
    readout: Literal["distribution", "generate"] = "distribution"
    second_readout: Literal["distribution", "generate"] | None = None
    """The other readout, asked too for the chapter that compares the two; null = none."""
    second_readout_groupings: list[str] = Field(
        default_factory=lambda: ["religion", "ethnicity", "nationality"]
    )
    """Groupings also asked with the second readout, under the first variation."""
    compared_groupings: list[str] = Field(default_factory=lambda: ["religion", "ethnicity", "nationality"])
    """Groupings the compared models (``models.compared``) answer, under the first variation,
    with the readout and (where the profile has one) the second readout."""
    reading: Reading = Field(default_factory=Reading)
    chunk_size: int = Field(default=256, ge=1)
    """Prompts per stored chunk: the unit of work, of resuming and of sharding."""
    max_new_tokens: int = Field(default=128, ge=1)
    stop_early: bool = True
    """generate readout: stop once more text cannot change the reading (same intensities)."""
    beyond: Beyond = Field(default_factory=Beyond)
    """The experiments beyond the paper (Part III of the book)."""

    @field_validator("groupings", "variation_groupings", "second_readout_groupings", "compared_groupings")
    @classmethod
    def _known_groupings(cls, value: list[str]) -> list[str]:
        from empathylab.gaps.design import GROUPINGS

        return _check_names(value, GROUPINGS, "grouping")

    @field_validator("second_readout", mode="before")
    @classmethod
    def _another_readout(cls, value: Any, info: ValidationInfo) -> Any:
        readouts = ("distribution", "generate")
        if value is not None and value not in readouts:
            raise ValueError(f"unknown readout; valid: {', '.join(readouts)} or null")
        readout = info.data.get("readout")  # absent when readout itself was invalid
        if value is not None and value == readout:
            other = next(r for r in readouts if r != readout)
            raise ValueError(f"must differ from readout ({readout}); valid: {other} or null")
        return value

    @field_validator("variations")
    @classmethod
    def _known_variations(cls, value: list[str]) -> list[str]:
        from empathylab.gaps.design import VARIATIONS

        return _check_names(value, VARIATIONS, "variation")

    @field_validator("identities")
    @classmethod
    def _known_identities(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from empathylab.errors import EmpathylabError
        from empathylab.gaps.design import GROUPINGS, select_identities

        if value:
            _check_names(list(value), GROUPINGS, "grouping")
        for grouping, subset in value.items():
            try:
                if len(select_identities(grouping, subset)) < 2:
                    raise ValueError(f"{grouping}: at least two identities are needed")
            except EmpathylabError as exc:
                raise ValueError(str(exc).rstrip(".")) from None
        return value


def _check_names(value: list[str], valid: Any, what: str) -> list[str]:
    unknown = [v for v in value if v not in valid]
    if unknown:
        raise ValueError(f"unknown {what}(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    if not value:
        raise ValueError(f"at least one {what} is needed; valid: {', '.join(valid)}")
    return value


class Labelling(_Section):
    """Part II: labelling essays with an LLM (the prompts of Hasan et al.)."""

    backend: Literal["transformers", "vllm", "openai", "fake"] | None = None
    """The backend that labels; null = ``llm.backend``."""
    prompts: list[Literal["scale-aware", "plain"]] = Field(
        default_factory=lambda: ["scale-aware", "plain"], min_length=1
    )
    sample: int | None = Field(default=None, ge=1)
    """Essays labelled (drawn with the profile's seed); null = all of them."""
    max_new_tokens: int = Field(default=64, ge=1)
    retries: int = Field(default=1, ge=0)
    batch_size: int = Field(default=8, ge=1)


class Split(_Section):
    valid: float = Field(default=0.1, ge=0, lt=1)
    test: float = Field(default=0.2, gt=0, lt=1)


class Training(_Section):
    """Part II: which labels train the regressor, and how it is evaluated."""

    llm: Literal["gpt4o", "llama3_70b"] = "gpt4o"
    """The released LLM labels behind y' and y_llm."""
    alphas: list[float] = Field(default_factory=lambda: [a / 2 for a in range(12)], min_length=1)
    alpha: float = Field(default=4.5, ge=0)
    """The α of y' when a single one is used (Hasan et al. chose 4.5)."""
    folds: int = Field(default=10, ge=2)
    seeds: list[int] = Field(default_factory=lambda: [0, 42, 100, 999, 1234], min_length=1)
    split: Split = Field(default_factory=Split)
    """The fixed, seeded split of the public essays (whole writers) for fine-tuning."""
    cv_method: Literal["probe", "finetune"] = "probe"
    """probe: frozen-encoder embeddings + ridge per fold; finetune: the full recipe."""
    finetune_strategies: list[Literal["y", "y'", "y_llm"]] = Field(
        default_factory=lambda: ["y", "y'", "y_llm"]
    )
    finetune_seeds: list[int] = Field(default_factory=lambda: [0, 42, 100, 999, 1234])
    augment_share: float = Field(default=0.5, gt=0, lt=1)
    """Share of the public essays' writers held out as the LLM-labelled extra set of
    y + y_llm (:func:`empathylab.llmpathy.augmenting.probe_augmentation`), 0 < x < 1. The default,
    0.5, leaves about 930 crowd-labelled essays (close to the 1,000 of NewsEmp24 train,
    the crowd-labelled set Hasan et al. augment) and adds as many LLM-labelled ones, so
    the extra set is about as large as the crowd set, as in the paper (where the extra
    set, NewsEmp22, is the larger). A larger share would shrink the crowd set and the test folds
    (about 90 essays each at 0.5 with 10 folds), a smaller one add too little to show."""
    max_epochs: int = Field(default=20, ge=1)
    max_train: int | None = Field(default=None, ge=10)
    """At most this many training essays per fine-tuning run on the fixed split (a seeded
    sample; null = all): the class profile's way to fine-tune in seconds."""
    max_length: int = Field(default=512, ge=8)
    batch_size: int = Field(default=16, ge=1)


class NewsEmpFiles(_Section):
    """Your own copy of one NewsEmp split, in its original format."""

    essays: str
    gold: str | None = None
    demographics: str | None = None


class Llmpathy(_Section):
    """Part II: LLM labels for empathy (Hasan et al.)."""

    labelling: Labelling = Field(default_factory=Labelling)
    training: Training = Field(default_factory=Training)
    newsemp: dict[str, dict[str, NewsEmpFiles]] = Field(default_factory=dict)
    """Bring your own NewsEmp data: ``{NewsEmp24: {train: {essays: ..., demographics: ...}}}``."""

    @field_validator("newsemp")
    @classmethod
    def _known_datasets(cls, value: dict[str, dict[str, NewsEmpFiles]]) -> dict[str, dict[str, NewsEmpFiles]]:
        if value:
            _check_names(list(value), ("NewsEmp22", "NewsEmp23", "NewsEmp24"), "dataset")
        for splits in value.values():
            _check_names(list(splits), ("train", "dev", "test"), "split")
        return value


class Calibration(_Section):
    """The appendix *How often are this book's verdicts wrong?*: simulated runs per verdict."""

    n_sims: int = Field(default=200, ge=10, le=1_000_000)
    """Simulated runs per verdict and condition (the Monte Carlo error of a 5 % rate is
    about 1.5 points at 200, 0.7 at 1,000)."""
    sizes: list[Literal["demo", "paper"]] = Field(default_factory=lambda: ["demo", "paper"], min_length=1)
    """The design sizes simulated: the demo profile's narratives, and the paper's."""


class Profile(_Section):
    """A validated run profile (see ``params/demo.yaml`` for a commented example)."""

    name: str
    description: str = ""
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    output_dir: str = Field(default="results/{name}")
    """Where results go; ``{name}`` is replaced by the profile's name (the only placeholder)."""

    @field_validator("output_dir")
    @classmethod
    def _only_the_name_placeholder(cls, value: str) -> str:
        try:
            value.format(name="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"the only placeholder allowed is {{name}} ({type(exc).__name__}: {exc})"
            ) from None
        return value

    models: Models = Field(default_factory=Models)
    llm: Llm = Field(default_factory=Llm)
    stimuli: Stimuli = Field(default_factory=Stimuli)
    gaps: Gaps = Field(default_factory=Gaps)
    llmpathy: Llmpathy = Field(default_factory=Llmpathy)
    calibration: Calibration = Field(default_factory=Calibration)

    def to_yaml(self) -> str:
        """Return the profile as YAML, every default filled in (loads back to an equal profile).

        >>> Profile(name="x").to_yaml().splitlines()[0]
        'name: x'
        """
        return yaml.safe_dump(self.model_dump(), sort_keys=False, allow_unicode=True)

    def output_path(self, root: str | Path = ".") -> Path:
        """Return the output folder of this profile, relative to ``root`` unless absolute.

        >>> Profile(name="x").output_path("/tmp").as_posix()
        '/tmp/results/x'
        """
        return Path(root) / self.output_dir.format(name=self.name)


def profile_dir() -> Path:
    """Return the folder of the named profiles: ``$EMPATHYLAB_PARAMS_DIR`` or ``./params``.

    Named profiles are looked up in the working directory's ``params/`` and, failing
    that, in the ``params/`` of the source checkout this package was installed from.
    """
    import os

    env = os.environ.get("EMPATHYLAB_PARAMS_DIR")
    if env:
        return Path(env)
    local = Path.cwd() / "params"
    if local.is_dir():
        return local
    return Path(__file__).resolve().parents[2] / "params"


def available_profiles() -> list[str]:
    """Return the names of the profiles in :func:`profile_dir`, sorted.

    >>> "demo" in available_profiles()
    True
    """
    return sorted(p.stem for p in profile_dir().glob("*.yaml"))


def _resolve(profile: str | Path) -> Path:
    text = str(profile)
    if text.endswith((".yaml", ".yml")) or "/" in text:
        path = Path(text).expanduser()
        if path.is_dir():
            raise ProfileError(
                f"{path} is a folder; give the path of a profile's YAML file, or a profile's name."
            )
        if not path.is_file():
            raise ProfileError(f"Profile file {path} does not exist.")
        return path
    path = profile_dir() / f"{text}.yaml"
    if not path.is_file():
        names = available_profiles()
        close = difflib.get_close_matches(text, names, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ProfileError(
            f"Unknown profile {text!r}.{hint} Available in {profile_dir()}: "
            f"{', '.join(names) or 'none'}; or give the path of a YAML file."
        )
    return path


def _describe(error: dict[str, Any], model: type[BaseModel]) -> str:
    loc = ".".join(str(part) for part in error["loc"])
    if error["type"] == "extra_forbidden":
        section: Any = model
        for part in error["loc"][:-1]:
            section = section.model_fields[str(part)].annotation
        valid = list(section.model_fields) if isinstance(section, type) else []
        close = difflib.get_close_matches(str(error["loc"][-1]), valid, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {loc!r}{hint}; valid keys here: {', '.join(valid)}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{loc}: {message} (got {_short(error.get('input'))})"


def _short(value: Any, limit: int = 120) -> str:
    """Return ``repr(value)`` cut to ``limit`` characters: an error echoes input, boundedly.

    >>> _short("x" * 500, 10)
    "'xx...xxx'"
    """
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = limit
    shorter.maxlist = shorter.maxdict = 8
    shorter.maxlevel = 3
    return shorter.repr(value)[: limit + 3]


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses a key given twice in one mapping (YAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}).") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path} is not valid YAML: {' '.join(str(exc).split())[:400]}") from None
    if raw is None:
        raise ProfileError(
            f"{path} is empty. A profile names at least what it changes from the defaults; "
            "see params/demo.yaml for a commented example."
        )
    if not isinstance(raw, dict):
        raise ProfileError(f"{path} must hold a mapping of keys, not {type(raw).__name__}.")
    return raw


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merge(out[key], value) if both else value
    return out


def _paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Return the key paths of the leaves of a nested dict: ``{"a": {"b": 1}}`` -> ``[("a", "b")]``."""
    out = []
    for key, value in tree.items():
        here = (*prefix, str(key))
        out += _paths(value, here) if isinstance(value, dict) and value else [here]
    return out


def _check_moved(raw: dict[str, Any], source: str) -> None:
    found = []
    for path, new in MOVED_KEYS.items():
        section: Any = raw
        for part in path[:-1]:
            section = section.get(part) if isinstance(section, dict) else None
        if isinstance(section, dict) and path[-1] in section:
            found.append(f"{'.'.join(path)} -> {new}")
    if found:
        raise ProfileError(
            f"{source} uses keys that moved to the llm: section (shared by both parts): "
            f"{'; '.join(found)}. Move them under llm: with the same values."
        )


def load_profile(profile: str | Path | Profile = "demo", **overrides: Any) -> Profile:
    """Load and validate a profile by name (``params/NAME.yaml``) or path.

    ``overrides`` replace keys after loading (sections given as dicts are merged, at any depth),
    and are validated like the file. Returns a frozen :class:`Profile`.

    >>> p = load_profile("demo")
    >>> p.name, p.models.causal_lm
    ('demo', ['embedded:gemma-3-270m'])
    >>> load_profile("demo", seed=3).seed
    3
    """
    if isinstance(profile, Profile):
        raw: dict[str, Any] = profile.model_dump()
        source = f"profile {profile.name!r}"
    else:
        path = _resolve(profile)
        source = str(path)
        raw = _read_yaml(path)
        raw.setdefault("name", path.stem)
    raw = _merge(raw, overrides)
    _check_moved(raw, source)
    try:
        return Profile.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors()
        found = [_describe(e, Profile) for e in errors]
        problems = "; ".join(found[:3]) + (f"; and {len(found) - 3} more" if len(found) > 3 else "")
        given = _paths(overrides)
        if given and all(any(tuple(map(str, e["loc"]))[: len(g)] == g for g in given) for e in errors):
            raise ProfileError(
                f"Invalid option (with {source}): {problems}."
            ) from None  # not the file's fault
        raise ProfileError(f"{source} is invalid: {problems}.") from None
