"""`paid.yaml`: which repositories Paid works on and how. Parsed strictly: an unknown key is an error."""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from .secrets import SECRETS

DEFAULT_CONFIG_PATH = "paid.yaml"
TRUSTED_DEFAULT = ("write", "maintain", "admin")
PERMISSIONS = ("read", "triage", "write", "maintain", "admin")
REPO_NAME = re.compile(r"^[A-Za-z0-9-]+/[A-Za-z0-9_.-]+$")


class ConfigError(ValueError):
    """A problem in `paid.yaml`, said with where it is and how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class GitHubSettings:
    base_url: str = "https://api.github.com"
    token_env: str = "GITHUB_TOKEN"
    review_token_env: str | None = None  # a second identity for reviews (GitHub refuses REQUEST_CHANGES by the author)
    seconds_between_writes: float = 1.0
    retries: int = 3
    timeout_seconds: float = 15.0


@dataclass(frozen=True)
class ModelSettings:
    name: str = "anthropic/claude-sonnet-4-5"
    api_base: str | None = None
    api_key_env: str | None = None
    fallbacks: tuple[str, ...] = ()
    temperature: float = 0.0
    timeout_seconds: float = 120.0
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None


@dataclass(frozen=True)
class ChecksSettings:
    enabled: bool = True
    max_rounds: int = 3
    timeout_seconds: int = 300


@dataclass(frozen=True)
class Limits:
    """The `limits:` section of paid.yaml."""

    max_turns: int = 40
    wall_time_seconds: float = 1800
    cost_ceiling_usd: float = 3.0
    command_timeout_seconds: int = 120
    loop_repeats: int = 3
    wind_down_fraction: float = 0.9


@dataclass(frozen=True)
class ScoreWeights:
    """The `scoring:` section: the weights of the quality score's components (normalised by their sum)."""

    merged: float = 0.30
    ci_first_try: float = 0.20
    human_vote: float = 0.20
    iterations: float = 0.15
    lint_clean: float = 0.10
    tests_passing: float = 0.05

    def total(self) -> float:
        return sum(asdict(self).values())


@dataclass(frozen=True)
class GateSettings:
    """The `gates:` section: when a project's quality pauses its dispatch."""

    rolling_ratio: float = 0.8  # 7-day mean below this share of the 30-day mean trips the gate
    failure_rate: float = 0.3  # more than this share of failing scores in 7 days trips it
    failure_below: float = 0.5  # a score under this is a failure
    min_scores: int = 5  # too few scores say nothing
    floor: float = 0.3  # per-issue floor for settled PRs (blocking check)
    resume_label: str = "paid-resume"  # a trusted person putting this label on any issue lifts a pause


@dataclass(frozen=True)
class NotifierSettings:
    kind: str = "log"  # log | webhook
    url: str | None = None


@dataclass(frozen=True)
class RepoSettings:
    name: str
    trigger_label: str = "paid-build"
    trusted_permissions: tuple[str, ...] = TRUSTED_DEFAULT
    branch_prefix: str = "paid/"
    base_branch: str | None = None
    engine: str = "mini-swe-agent"
    sandbox: str = "auto"
    sandbox_image: str = "paid-sandbox:bookworm"
    triage: bool = True
    budget_daily_usd: float | None = None
    budget_monthly_usd: float | None = None
    max_follow_ups: int = 3
    risk_policy: tuple[dict[str, str], ...] = ()  # [{glob, tier: low|medium|high}], first match wins
    review_rounds: int = 2  # remediation rounds for blocking findings before escalating to a human
    prompts_dir: str | None = None  # templates here override the built-in ones of the same name

    @property
    def owner(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def repo(self) -> str:
        return self.name.split("/", 1)[1]


@dataclass(frozen=True)
class PaidConfig:
    repositories: tuple[RepoSettings, ...]
    github: GitHubSettings = field(default_factory=GitHubSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    limits: Limits = field(default_factory=Limits)
    checks: ChecksSettings = field(default_factory=ChecksSettings)
    scoring: ScoreWeights = field(default_factory=ScoreWeights)
    gates: GateSettings = field(default_factory=GateSettings)
    notifier: NotifierSettings = field(default_factory=NotifierSettings)
    first_tick_backlog: int = 10
    work_dir: str = ".paid/work"
    ledger_url: str | None = None
    secret_env: tuple[str, ...] = ()  # more variables whose values are secrets, masked wherever text leaves
    source: str = "<memory>"

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


def _known(
    cls: type, where: str, data: dict[str, Any], problems: list[str], extra: frozenset[str] = frozenset()
) -> dict[str, Any]:
    names = ({f.name for f in fields(cls)} - {"source"}) | extra
    for key in data:
        if key not in names:
            suggestion = ", ".join(sorted(names))
            problems.append(f"{where}: unknown key {key!r} (known keys: {suggestion})")
    return {k: v for k, v in data.items() if k in names}


def _section(cls: type, where: str, data: Any, problems: list[str]) -> Any:
    if data is None:
        return cls()
    if not isinstance(data, dict):
        problems.append(f"{where}: expected a mapping of settings, got {type(data).__name__}")
        return cls()
    values = _known(cls, where, data, problems)
    defaults = cls()
    for f in fields(cls):
        if f.name not in values:
            continue
        value, default = values[f.name], getattr(defaults, f.name)
        if isinstance(default, tuple) or f.name == "fallbacks":
            values[f.name] = tuple(value or ())
        elif isinstance(default, bool):
            if not isinstance(value, bool):
                problems.append(f"{where}.{f.name}: expected true or false, got {value!r}")
        elif isinstance(default, (int, float)) and (
            not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0
        ):
            problems.append(f"{where}.{f.name}: expected a number ≥ 0, got {value!r}")
    try:
        return replace(defaults, **values)
    except TypeError as exc:
        problems.append(f"{where}: {exc}")
        return defaults


def _repository(index: int, data: Any, defaults: dict[str, Any], problems: list[str]) -> RepoSettings | None:
    where = f"repositories[{index}]"
    if isinstance(data, str):
        data = {"name": data}
    if not isinstance(data, dict):
        problems.append(f"{where}: expected `owner/name` or a mapping with a `name`")
        return None
    merged = {**defaults, **data}
    values = _known(RepoSettings, where, merged, problems)
    name = values.get("name")
    if not isinstance(name, str) or not REPO_NAME.match(name):
        problems.append(f"{where}.name: expected `owner/repository`, got {name!r}")
        return None
    if "trusted_permissions" in values:
        trusted = tuple(values["trusted_permissions"] or ())
        bad = [p for p in trusted if p not in PERMISSIONS]
        if bad or not trusted:
            problems.append(f"{where}.trusted_permissions: use some of {', '.join(PERMISSIONS)}; got {trusted!r}")
        values["trusted_permissions"] = trusted
    if "risk_policy" in values:
        policy = tuple(values["risk_policy"] or ())
        bad_rules = [
            r
            for r in policy
            if not isinstance(r, dict)
            or r.get("tier") not in ("low", "medium", "high")
            or not isinstance(r.get("glob"), str)
        ]
        if bad_rules:
            problems.append(
                f"{where}.risk_policy: each rule is {{glob: 'src/**', tier: low|medium|high}}; got {bad_rules!r}"
            )
        values["risk_policy"] = policy
    if values.get("engine", "mini-swe-agent") not in ("mini-swe-agent", "claude-code", "codex", "aider"):
        problems.append(f"{where}.engine: one of mini-swe-agent, claude-code, codex, aider; got {values['engine']!r}")
    if values.get("sandbox", "auto") not in ("auto", "docker", "bubblewrap", "local"):
        problems.append(f"{where}.sandbox: one of auto, docker, bubblewrap, local; got {values['sandbox']!r}")
    label = values.get("trigger_label", "paid-build")
    if not isinstance(label, str) or not label.strip() or "," in label:
        problems.append(f"{where}.trigger_label: a label name without commas; got {label!r}")
    return RepoSettings(**values)


def parse_config(data: Any, source: str = "<memory>") -> PaidConfig:
    problems: list[str] = []
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: expected a mapping at the top level (see paid.example.yaml)"])
    top = _known(PaidConfig, source, data, problems, frozenset({"defaults", "quality"}))  # quality: old name
    defaults = top.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(f"{source}: defaults: expected a mapping of repository settings")
        defaults = {}
    raw_repos = top.get("repositories")
    if not raw_repos:
        problems.append(f"{source}: repositories: list at least one `owner/name` for Paid to watch")
        raw_repos = []
    repos = [_repository(i, r, defaults, problems) for i, r in enumerate(raw_repos)]
    backlog = top.get("first_tick_backlog", 10)
    if not isinstance(backlog, int) or backlog < 0:
        problems.append(f"{source}: first_tick_backlog: expected a whole number ≥ 0, got {backlog!r}")
        backlog = 10
    config = PaidConfig(
        repositories=tuple(r for r in repos if r is not None),
        github=_section(GitHubSettings, "github", top.get("github"), problems),
        model=_section(ModelSettings, "model", top.get("model"), problems),
        limits=_section(Limits, "limits", top.get("limits"), problems),
        checks=_section(ChecksSettings, "checks", top.get("checks", top.get("quality")), problems),
        scoring=_section(ScoreWeights, "scoring", top.get("scoring"), problems),
        gates=_section(GateSettings, "gates", top.get("gates"), problems),
        notifier=_section(NotifierSettings, "notifier", top.get("notifier"), problems),
        first_tick_backlog=backlog,
        work_dir=str(top.get("work_dir", ".paid/work")),
        ledger_url=top.get("ledger_url"),
        source=source,
    )
    secret_env = top.get("secret_env") or []
    if not isinstance(secret_env, list) or not all(isinstance(n, str) for n in secret_env):
        problems.append(f"{source}: secret_env: a list of environment variable names, got {secret_env!r}")
        secret_env = []
    config = replace(config, secret_env=tuple(secret_env))
    if problems:
        raise ConfigError(problems)
    register_secrets(config)
    return config


def register_secrets(config: PaidConfig) -> None:
    """Every value Paid holds as a secret is known by value from here on, whatever its variable is called."""
    github, model = config.github, config.model
    SECRETS.register_env(github.token_env, github.review_token_env, model.api_key_env, *config.secret_env)
    SECRETS.register(config.ledger_url, "ledger_url")


def load_config(path: str | os.PathLike[str] | None = None) -> PaidConfig:
    chosen = Path(path or os.environ.get("PAID_CONFIG") or DEFAULT_CONFIG_PATH)
    if not chosen.is_file():
        raise ConfigError(
            [f"{chosen}: no such file: run `paid init` to write one, or set PAID_CONFIG to the file's path"]
        )
    try:
        data = yaml.safe_load(chosen.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{chosen}: not valid YAML{where}: {getattr(exc, 'problem', exc)}"]) from exc
    config = parse_config(data, str(chosen))
    work = Path(config.work_dir)
    if not work.is_absolute():
        config = replace(config, work_dir=str((chosen.parent / work).resolve()))
    repos = tuple(
        replace(r, prompts_dir=str((chosen.parent / r.prompts_dir).resolve()))
        if r.prompts_dir and not Path(r.prompts_dir).is_absolute()
        else r
        for r in config.repositories
    )
    return replace(config, repositories=repos)
