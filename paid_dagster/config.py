"""`paid.yaml`: which repositories Paid works on and how, and every settings class Paid has.

The file is parsed by the models below (pydantic): an unknown key is an error, and so is a value of the wrong
kind. Each problem is said with the file, the key's path (`repositories[0].sandbox`), what was expected and
what was given. The domain packages import their settings from here; this module imports none of them.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
    with_config,
)
from pydantic_core import ErrorDetails
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12

from .secrets import SECRETS

DEFAULT_CONFIG_PATH = "paid.yaml"
REPO_NAME = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9_.-]+$")

Engine = Literal["mini-swe-agent", "claude-code", "codex", "aider"]
SandboxKind = Literal["auto", "docker", "bubblewrap", "local"]
Permission = Literal["read", "triage", "write", "maintain", "admin"]
Tier = Literal["low", "medium", "high"]
PERMISSIONS: tuple[Permission, ...] = get_args(Permission)
TRUSTED_DEFAULT: tuple[Permission, ...] = ("write", "maintain", "admin")


class ConfigError(ValueError):
    """A problem in `paid.yaml`, said with where it is and how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


# --- the kinds of values (YAML gives them typed: "3" is text, not a number) ---------------------------

M = TypeVar("M")
Number = Annotated[float, Field(strict=True, ge=0)]
WholeNumber = Annotated[int, Field(strict=True, ge=0)]
Text = StrictStr
Flag = StrictBool
# `fallbacks:` with nothing after it is YAML's null: an empty list, as an empty section is all defaults.
Items = Annotated[tuple[M, ...], BeforeValidator(lambda value: () if value is None else value)]
Section = Annotated[M, BeforeValidator(lambda value: {} if value is None else value)]


class Settings(BaseModel):
    """A section of paid.yaml: frozen (change a copy with `model_copy(update=...)`), unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class GitHubSettings(Settings):
    base_url: Text = "https://api.github.com"
    token_env: Text = "GITHUB_TOKEN"
    review_token_env: Text | None = None  # a second identity for reviews (GitHub refuses REQUEST_CHANGES by the author)
    seconds_between_writes: Number = 1.0
    retries: WholeNumber = 3
    timeout_seconds: Number = 15.0


class ModelSettings(Settings):
    name: Text = "anthropic/claude-sonnet-4-5"
    api_base: Text | None = None
    api_key_env: Text | None = None
    fallbacks: Items[Text] = ()
    temperature: Number = 0.0
    timeout_seconds: Number = 120.0
    input_cost_per_token: Number | None = None
    output_cost_per_token: Number | None = None
    context_window: WholeNumber | None = None  # for models litellm does not know; its own figure otherwise


ModelTask = Literal["triage", "coding", "review"]


class TaskModels(Settings):
    """One task under `models.tasks`: the models it may use and the one it uses while evidence is lacking."""

    candidates: Items[Text] = ()  # none: every model allowed for the project
    default: Text | None = None  # none: `model.name`


class TasksModels(Settings):
    triage: Section[TaskModels] = Field(default_factory=TaskModels)
    coding: Section[TaskModels] = Field(default_factory=TaskModels)
    review: Section[TaskModels] = Field(default_factory=TaskModels)


class MetaAgentSettings(Settings):
    """A model call that picks among the allowed candidates; any failure or invalid answer leaves it to the rules."""

    enabled: Flag = False
    model: Text | None = None  # none: `model.name`


class ModelsSettings(Settings):
    """The `models:` section: which models Paid may use, and how it picks one per task (`learning/selection.py`).

    Without it every task uses `model:`, as before. A model litellm has no price for is allowed only with its
    prices here (`catalogue`)."""

    allowed: Items[Text] = ()  # none: the models this file names (model, its fallbacks, catalogue, tasks)
    catalogue: Items[ModelSettings] = ()  # how to reach and price a model beyond `model:` (local, scripted, ...)
    tasks: Section[TasksModels] = Field(default_factory=TasksModels)
    quality_floor: Number = 0.6  # a model's observed mean quality for the task must reach this...
    min_samples: WholeNumber = 5  # ...over at least this many scored issues, for the rules to prefer it
    cheaper_at: Number = 0.8  # from this share of a budget spent, the cheapest allowed model
    meta_agent: Section[MetaAgentSettings] = Field(default_factory=MetaAgentSettings)


class ChecksSettings(Settings):
    """The `checks:` section (`quality:` is its old name): the project's checks fed back to the agent."""

    enabled: Flag = True
    max_rounds: WholeNumber = 3
    timeout_seconds: WholeNumber = 300


class Limits(Settings):
    """The `limits:` section: the agent's guardrails per run."""

    max_turns: WholeNumber = 40
    wall_time_seconds: Number = 1800
    cost_ceiling_usd: Number = 3.0
    command_timeout_seconds: WholeNumber = 120
    loop_repeats: WholeNumber = 3
    wind_down_fraction: Number = 0.9


class RetrySettings(Settings):
    """The `retries:` section: Paid's own new attempts on an issue whose run failed for a transient reason
    (GitHub 5xx, timeouts, rate limits, a model provider's 5xx/429, a crashed worker)."""

    max_attempts: Annotated[int, Field(strict=True, ge=1)] = 3  # the first attempt included
    backoff_seconds: Number = 60.0  # before attempt n+1: backoff_seconds × 2^(n-1)


class ScoreWeights(Settings):
    """The `scoring:` section: the weights of the quality score's components (normalised by their sum)."""

    merged: Number = 0.30
    ci_first_try: Number = 0.20
    human_vote: Number = 0.20
    iterations: Number = 0.15
    lint_clean: Number = 0.10
    tests_passing: Number = 0.05

    def total(self) -> float:
        return sum(self.model_dump().values())


class GateSettings(Settings):
    """The `gates:` section: when a project's quality pauses its dispatch."""

    rolling_ratio: Number = 0.8  # 7-day mean below this share of the 30-day mean trips the gate
    failure_rate: Number = 0.3  # more than this share of failing scores in 7 days trips it
    failure_below: Number = 0.5  # a score under this is a failure
    min_scores: WholeNumber = 5  # too few scores say nothing
    floor: Number = 0.3  # per-issue floor for settled PRs (blocking check)
    resume_label: Text = "paid-resume"  # a trusted person putting this label on any issue lifts a pause


class OutcomeSettings(Settings):
    """The `outcomes:` section: what counts as a good score (a bad one is under `gates.floor`), and how much
    history a statistic needs before it is reported."""

    good_at: Number = 0.7  # a score at least this is good
    min_sample: WholeNumber = 20  # fewer issues than this: "not enough data", no statistic


class SetupSettings(Settings):
    """A repository's `setup:`: how its environment is prepared, in the sandbox, before the agent starts.

    Precedence: `commands` here, else the repository's own `.paid/setup.sh`, else what its files call for
    (lock files and manifests). Setup reaches the package registries only (plus `allow_hosts`), with no secret.
    """

    enabled: Flag = True
    commands: Items[Text] = ()
    allow_hosts: Items[Text] = ()  # exact hosts, or `.example.com` for a domain's subdomains
    required: Flag = True  # a setup that fails stops the run before any model money is spent
    timeout_seconds: WholeNumber = 1200


class EnvironmentsSettings(Settings):
    """The `environments:` section: where prepared environments are cached, and how much of them is kept."""

    dir: Text = ".paid/environments"
    max_gb: Number = 10.0
    max_age_days: Number = 14.0


class ConcurrencySettings(Settings):
    """The `concurrency:` section: how many issue runs Dagster's run queue lets go at once, in all and per
    repository (runs carry the tag `paid/repo`; the instance's QueuedRunCoordinator enforces both)."""

    max_runs: WholeNumber = 4
    per_repository: WholeNumber = 2


class NotifierSettings(Settings):
    kind: Literal["log", "webhook"] = "log"
    url: Text | None = None


CheckParser = Literal[
    "exit-code",
    "ruff",
    "mypy",
    "junit",
    "eslint",
    "tsc",
    "go-test",
    "go-vet",
    "clippy",
    "cargo-test",
    "rubocop",
    "rspec",
]
CheckKind = Literal["tests", "lint", "types", "check", "other"]


class CheckCommand(Settings):
    """One entry of a repository's `checks:`: a command the project runs, replacing discovery."""

    name: Text
    command: Text
    parser: CheckParser = "exit-code"  # exit-code: the exit code decides, the end of the output is the feedback
    kind: CheckKind | None = None  # tests, lint, types …; guessed from the command when not given
    report: Text | None = None  # the file a `junit` command writes, relative to the repository

    @field_validator("name", "command")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("expected text, got nothing")
        return value


ExperimentKind = Literal["prompt", "model", "engine", "limit"]
ExperimentTest = Literal["sequential", "fixed"]
# YAML gives `value: 20` as a number: a variant's value is kept as text, whatever it compares.
VariantValue = Annotated[
    str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v)
]


class ExperimentVariant(Settings):
    """One arm of an experiment: what it sets (a prompt version, a model, an engine, a limit's value) and its
    share of the traffic (weights are relative)."""

    name: Text
    value: VariantValue
    weight: Number = 1.0


class ExperimentSettings(Settings):
    """One entry of `experiments:` (top level: every repository; under a repository: that one only).

    The first variant is the control; each other one is tested against it. `target` names the prompt (kind
    prompt) or the `limits:` field (kind limit); a model or an engine is the coding run's."""

    name: Text
    kind: ExperimentKind
    target: Text = ""
    variants: Items[ExperimentVariant]
    horizon: WholeNumber = 30  # outcomes per arm at which Welch's t-test is computed, once
    alpha: Number = 0.05
    test: ExperimentTest = "sequential"  # which test may declare a winner (both are always reported)
    auto_promote: Flag = False  # a prompt experiment's winner becomes the prompt's current version

    @field_validator("name")
    @classmethod
    def _simple_name(cls, name: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
            raise ValueError(f"expected a name of letters, digits, `-`, `_` or `.`, got {name!r}")
        return name

    @field_validator("variants")
    @classmethod
    def _two_distinct(cls, variants: tuple[ExperimentVariant, ...]) -> tuple[ExperimentVariant, ...]:
        names = [v.name for v in variants]
        if len(variants) < 2 or len(set(names)) != len(names):
            raise ValueError(f"expected at least two variants with distinct names, got {names}")
        if not any(v.weight > 0 for v in variants):
            raise ValueError("expected a variant with a weight above 0")
        return variants

    @field_validator("alpha")
    @classmethod
    def _probability(cls, alpha: float) -> float:
        if not 0 < alpha < 1:
            raise ValueError(f"expected a probability between 0 and 1, got {alpha!r}")
        return alpha

    @model_validator(mode="after")
    def _target_fits_kind(self) -> ExperimentSettings:
        if self.kind == "prompt" and not self.target:
            raise ValueError("a prompt experiment names its prompt in `target` (for example `task`)")
        if self.kind == "limit":
            if self.target not in Limits.model_fields:
                raise ValueError(f"`target` of a limit experiment is one of {', '.join(Limits.model_fields)}")
            for variant in self.variants:
                try:
                    Limits.model_validate({self.target: limit_value(variant.value)})
                except (ValueError, ValidationError):
                    raise ValueError(
                        f"variant {variant.name!r}: {variant.value!r} is not a value of limits.{self.target}"
                    ) from None
        if self.kind == "engine":
            for variant in self.variants:
                if variant.value not in get_args(Engine):
                    raise ValueError(f"variant {variant.name!r}: expected one of {get_args(Engine)}")
        if self.auto_promote and self.kind != "prompt":
            raise ValueError("auto_promote promotes prompt versions: only a prompt experiment may set it")
        return self


def limit_value(text: str) -> int | float:
    """A limit variant's value as the number `limits:` takes (whole numbers stay whole)."""
    number = float(text)
    return int(number) if number.is_integer() else number


@with_config(ConfigDict(extra="forbid"))
class RiskRule(TypedDict):
    """One rule of `risk_policy`: changed paths matching `glob` are of this tier; the first match wins."""

    glob: str
    tier: Tier


class RepoDefaults(Settings):
    """What a repository entry may set; the `defaults:` section sets it for every entry."""

    trigger_label: Text = "paid-build"
    trusted_permissions: Items[Permission] = TRUSTED_DEFAULT
    branch_prefix: Text = "paid/"
    base_branch: Text | None = None
    engine: Engine = "mini-swe-agent"
    sandbox: SandboxKind = "auto"
    sandbox_image: Text = "paid-sandbox:bookworm"
    triage: Flag = True
    budget_daily_usd: Number | None = None
    budget_monthly_usd: Number | None = None
    max_follow_ups: WholeNumber = 3
    risk_policy: Items[RiskRule] = ()  # first match wins
    review_rounds: WholeNumber = 2  # remediation rounds for blocking findings before escalating to a human
    allowed_models: Items[Text] = ()  # none: every model of `models.allowed`; else a narrower list of them
    prompts_dir: Text | None = None  # templates here override the built-in ones of the same name
    checks: Items[CheckCommand] = ()  # the project's checks, replacing what Paid discovers from its files
    setup: Section[SetupSettings] = Field(default_factory=SetupSettings)

    @field_validator("trigger_label")
    @classmethod
    def _one_label(cls, label: str) -> str:
        if not label.strip() or "," in label:
            raise ValueError(f"expected a label name without commas, got {label!r}")
        return label

    @field_validator("trusted_permissions")
    @classmethod
    def _someone_trusted(cls, permissions: tuple[Permission, ...]) -> tuple[Permission, ...]:
        if not permissions:
            raise ValueError(f"expected some of {', '.join(PERMISSIONS)}, got none (then nobody could start Paid)")
        return permissions


class RepoSettings(RepoDefaults):
    """One entry of `repositories:`, either `owner/name` or a mapping with a `name`."""

    name: Text
    experiments: Items[ExperimentSettings] = ()  # this repository's own (not taken from `defaults:`)

    @model_validator(mode="before")
    @classmethod
    def _name_alone(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"name": data}
        if not isinstance(data, dict):
            raise ValueError(f"expected `owner/name` or a mapping with a `name`, got {data!r}")
        return data

    @field_validator("name", mode="before")
    @classmethod
    def _owner_and_name(cls, name: Any) -> Any:
        if not isinstance(name, str) or not REPO_NAME.match(name):
            raise ValueError(f"expected `owner/repository`, got {name!r}")
        return name

    @property
    def owner(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.name.split("/", 1)[1]


class PaidConfig(Settings):
    """The whole file. `defaults` is merged into every repository entry (an entry's own keys win)."""

    github: Section[GitHubSettings] = Field(default_factory=GitHubSettings)
    model: Section[ModelSettings] = Field(default_factory=ModelSettings)
    models: Section[ModelsSettings] = Field(default_factory=ModelsSettings)
    limits: Section[Limits] = Field(default_factory=Limits)
    retries: Section[RetrySettings] = Field(default_factory=RetrySettings)
    checks: Section[ChecksSettings] = Field(
        default_factory=ChecksSettings, validation_alias=AliasChoices("checks", "quality")
    )
    scoring: Section[ScoreWeights] = Field(default_factory=ScoreWeights)
    gates: Section[GateSettings] = Field(default_factory=GateSettings)
    outcomes: Section[OutcomeSettings] = Field(default_factory=OutcomeSettings)
    notifier: Section[NotifierSettings] = Field(default_factory=NotifierSettings)
    concurrency: Section[ConcurrencySettings] = Field(default_factory=ConcurrencySettings)
    first_tick_backlog: WholeNumber = 10
    work_dir: Text = ".paid/work"
    work_retention_days: Number = 7.0  # what a crashed or abandoned run left in work_dir is removed after this
    environments: Section[EnvironmentsSettings] = Field(default_factory=EnvironmentsSettings)
    ledger_url: Text | None = None
    experiments: Items[ExperimentSettings] = ()  # on every repository
    secret_env: Items[Text] = ()  # more variables whose values are secrets, masked wherever text leaves
    defaults: Section[RepoDefaults] = Field(default_factory=RepoDefaults)  # validated before `repositories`
    repositories: Items[RepoSettings] = Field(default=(), validate_default=True)
    _source: str = PrivateAttr("<memory>")

    @field_validator("repositories")
    @classmethod
    def _with_defaults(cls, repos: tuple[RepoSettings, ...], info: ValidationInfo) -> tuple[RepoSettings, ...]:
        if not repos:
            raise ValueError("list at least one `owner/name` for Paid to watch")
        defaults: RepoDefaults | None = info.data.get("defaults")  # absent when it had problems of its own
        given = {key: getattr(defaults, key) for key in defaults.model_fields_set} if defaults else {}
        return tuple(
            repo.model_copy(update={k: v for k, v in given.items() if k not in repo.model_fields_set}) for repo in repos
        )

    @model_validator(mode="after")
    def _models_allowed(self) -> PaidConfig:
        """Tasks and repositories may only name allowed models; a repository may only narrow the list."""
        allowed, problems = set(self.allowed_models()), []
        tasks = self.models.tasks
        named = {
            f"models.tasks.{task}": [*getattr(tasks, task).candidates, getattr(tasks, task).default]
            for task in get_args(ModelTask)
        }
        named["models.meta_agent.model"] = [self.models.meta_agent.model]
        for repo in self.repositories:
            named[f"repositories[{repo.name}].allowed_models"] = list(repo.allowed_models)
        for where, names in named.items():
            outside = [name for name in names if name is not None and name not in allowed]
            if outside:
                problems.append(f"{where}: {', '.join(outside)} not in models.allowed ({', '.join(sorted(allowed))})")
        for repo in self.repositories if not problems else ():
            for task in get_args(ModelTask):
                if not self.task_candidates(task, repo.name):
                    problems.append(
                        f"repositories[{repo.name}]: no model left for {task} (models.tasks.{task}.candidates"
                        " and allowed_models have none in common)"
                    )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def source(self) -> str:
        """The file this was read from."""
        return self._source

    def allowed_models(self, repository: str | None = None) -> tuple[str, ...]:
        """The models Paid may call, for one repository when named: `models.allowed` (else every model this file
        names), narrowed by the repository's `allowed_models`."""
        models = self.models
        names: tuple[str | None, ...] = models.allowed or (
            self.model.name,
            *self.model.fallbacks,
            *(entry.name for entry in models.catalogue),
            *(name for task in get_args(ModelTask) for name in getattr(models.tasks, task).candidates),
            *(getattr(models.tasks, task).default for task in get_args(ModelTask)),
            models.meta_agent.model,
        )
        allowed = tuple(dict.fromkeys(name for name in names if name))
        narrowed = self.repository(repository).allowed_models if repository else ()
        return tuple(name for name in allowed if name in narrowed) if narrowed else allowed

    def task_candidates(self, task: ModelTask, repository: str | None = None) -> tuple[str, ...]:
        """The models a task may use in a repository: its candidates (else all) that are allowed there."""
        allowed = self.allowed_models(repository)
        listed = getattr(self.models.tasks, task).candidates
        return tuple(name for name in (listed or allowed) if name in allowed)

    def task_default(self, task: ModelTask) -> str:
        return getattr(self.models.tasks, task).default or self.model.name

    def model_settings(self, name: str) -> ModelSettings:
        """How to call a model: `model:` for its own name, a `models.catalogue` entry, else litellm's defaults."""
        if name == self.model.name:
            return self.model
        for entry in self.models.catalogue:
            if entry.name == name:
                return entry
        return ModelSettings(name=name, temperature=self.model.temperature, timeout_seconds=self.model.timeout_seconds)

    def repository(self, name: str) -> RepoSettings:
        for repo in self.repositories:
            if repo.name.lower() == name.lower():
                return repo
        raise KeyError(f"{name} is not a repository in {self.source}")

    def github_token(self) -> str:
        token = os.environ.get(self.github.token_env, "")
        if not token:
            raise ConfigError(
                [
                    f"the environment variable {self.github.token_env} is not set: create a GitHub token that may read"
                    f" and write issues, pull requests and contents, then `export {self.github.token_env}=...`"
                    " (or set github.token_env in paid.yaml to the variable that holds it)"
                ]
            )
        return token


# --- problems, said for people ----------------------------------------------------------------------

EXPECTED = {
    "bool_type": "true or false",
    "int_type": "a number ≥ 0",
    "float_type": "a number ≥ 0",
    "greater_than_equal": "a number ≥ 0",
    "string_type": "text",
}
MAPPINGS = {
    "risk_policy": "a rule {glob: 'src/**', tier: low|medium|high}",
    "checks": "a check {name, command, parser}",
    "catalogue": "a model {name, api_base, input_cost_per_token, output_cost_per_token}",
    "experiments": "an experiment {name, kind, target, variants}",
    "variants": "a variant {name, value, weight}",
}  # what an item of the list is
LISTS = {
    "repositories": "a list of `owner/name` entries",
    "secret_env": "a list of environment variable names",
    "fallbacks": "a list of model names",
    "allowed": "a list of model names",
    "allowed_models": "a list of model names",
    "candidates": "a list of model names",
}


def _path(loc: tuple[int | str, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc).lstrip(".")


def _keys(kind: Any) -> dict[str, Any]:
    """The keys a mapping of this kind takes (aliases too), each with the kind of its value."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        keys: dict[str, Any] = {}
        for name, field in kind.model_fields.items():
            aliases = field.validation_alias.choices if isinstance(field.validation_alias, AliasChoices) else []
            keys.update({str(alias): field.annotation for alias in [name, *aliases]})
        return keys
    return dict(getattr(kind, "__annotations__", {}))


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys the mapping at `loc` takes, found by walking the schema from the top."""
    kind: Any = PaidConfig
    for part in loc:
        if isinstance(part, str):
            kind = _keys(kind).get(part)
        while get_origin(kind) in (tuple, Union, Annotated):  # tuple[X, ...], X | None: the mapping is an X
            kind = next(arg for arg in get_args(kind) if arg is not type(None))
    return sorted(name for name in _keys(kind) if name != "quality")  # `quality`: the old name of `checks`


def _problem(error: ErrorDetails) -> str:
    loc, kind, given = tuple(error["loc"]), error["type"], error.get("input")
    where = f"{_path(loc)}: " if loc else ""
    if kind == "extra_forbidden":
        parent, key = loc[:-1], str(loc[-1])
        known = _known_keys(parent)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        return f"{_path(parent) + ': ' if parent else ''}unknown key {key!r} ({hint}known keys: {', '.join(known)})"
    if kind == "missing":
        return f"{where}required, but missing"
    if kind == "value_error":
        return f"{where}{error.get('ctx', {}).get('error', error['msg'])}"
    if kind in ("dict_type", "model_type"):
        item_of = loc[-2] if len(loc) > 1 and isinstance(loc[-1], int) else None
        mapping = MAPPINGS.get(str(item_of), "a mapping") if item_of else "a mapping of settings"
        return f"{where}expected {mapping}, got {given!r}"
    if kind == "literal_error":
        return f"{where}expected one of {error.get('ctx', {}).get('expected')}, got {given!r}"
    if kind == "tuple_type":
        return f"{where}expected {LISTS.get(str(loc[-1]), 'a list')}, got {given!r}"
    if kind == "int_type" and isinstance(given, float):
        return f"{where}expected a whole number ≥ 0, got {given!r}"
    expected = EXPECTED.get(kind)
    return f"{where}expected {expected}, got {given!r}" if expected else f"{where}{error['msg']}, got {given!r}"


def parse_config(data: Any, source: str = "<memory>") -> PaidConfig:
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping at the top level (`paid init` writes an example)"])
    try:
        config = PaidConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{source}: {_problem(error)}" for error in exc.errors(include_url=False)]
        raise ConfigError(list(dict.fromkeys(problems))) from exc
    config._source = source
    register_secrets(config)
    return config


def register_secrets(config: PaidConfig) -> None:
    """Every value Paid holds as a secret is known by value from here on, whatever its variable is called."""
    github, model = config.github, config.model
    catalogue = (entry.api_key_env for entry in config.models.catalogue)
    SECRETS.register_env(github.token_env, github.review_token_env, model.api_key_env, *catalogue, *config.secret_env)
    SECRETS.register(config.ledger_url, "ledger_url")


# --- the file ------------------------------------------------------------------------------------------


def read_config(path: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The file's path ($PAID_CONFIG, else ./paid.yaml, when none is given) and its text."""
    chosen = Path(path or os.environ.get("PAID_CONFIG") or DEFAULT_CONFIG_PATH)
    if not chosen.is_file():
        raise ConfigError(
            [f"{chosen}: no such file: run `paid init` to write one, or set PAID_CONFIG to the file's path"]
        )
    return chosen, chosen.read_text()


def config_from_text(text: str, chosen: Path) -> PaidConfig:
    """The file's text parsed; relative `work_dir`, `environments.dir` and `prompts_dir` are taken from the
    file's directory."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{chosen}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from exc
    config = parse_config(data, str(chosen))
    work = Path(config.work_dir)
    if not work.is_absolute():
        config = config.model_copy(update={"work_dir": str((chosen.parent / work).resolve())})
    environments = Path(config.environments.dir)
    if not environments.is_absolute():
        resolved = config.environments.model_copy(update={"dir": str((chosen.parent / environments).resolve())})
        config = config.model_copy(update={"environments": resolved})
    repos = tuple(
        r.model_copy(update={"prompts_dir": str((chosen.parent / r.prompts_dir).resolve())})
        if r.prompts_dir and not Path(r.prompts_dir).is_absolute()
        else r
        for r in config.repositories
    )
    config = config.model_copy(update={"repositories": repos})
    problems = prompts_dirs_in_work_dir(config)
    if problems:
        raise ConfigError([f"{chosen}: {problem}" for problem in problems])
    return config


def prompts_dirs_in_work_dir(config: PaidConfig) -> list[str]:
    """A `prompts_dir` must be the owner's directory, never one the agents' clones live in: what an agent (or a
    cloned repository) writes must not become a prompt Paid sends."""
    work = Path(config.work_dir).resolve()
    return [
        f"repositories[{r.name}].prompts_dir {r.prompts_dir} is inside work_dir {work}, where the agents' clones"
        " live: keep prompt templates in a directory of your own, next to paid.yaml"
        for r in config.repositories
        if r.prompts_dir and Path(r.prompts_dir).resolve().is_relative_to(work)
    ]


def load_config(path: str | os.PathLike[str] | None = None) -> PaidConfig:
    chosen, text = read_config(path)
    return config_from_text(text, chosen)
