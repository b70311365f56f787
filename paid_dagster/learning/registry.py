"""The prompt registry: every prompt Paid sends is an immutable, versioned record in the ledger's database.

A version is named by its template's content hash, so the same text is the same version wherever it comes
from. Versions are global (project "") or a project's; a project's current version of a name overrides the
global one. Versions are never updated: which one is current and which are retired is a fold over the
`prompt.promoted` and `prompt.retired` events of the ledger's `prompts` stream, so that who changed what, and
why, is kept with the change.

The built-in templates are seeded as global versions on first use; a template file that changed (a new Paid
release, or a repository's `prompts_dir` in paid.yaml) becomes a new version whose parent is the current one,
and is made current. A version already known is never promoted again by seeding: a person's choice stands.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..agent.prompts import TEMPLATES_DIR, content_hash
from ..keys import idempotency_key
from ..ledger import Ledger
from ..ledger.kinds import Kind
from ..ledger.store import create_tables, events_table
from .decisions import Decision, DecisionKind, record_decision

STREAM = "prompts"  # the ledger stream of every registry change, global and per project
SEEDER = "paid"  # the author of versions seeded from template files
CURRENT, AVAILABLE, RETIRED = "current", "available", "retired"
GLOBAL = ""

registry_metadata = sa.MetaData()
versions_table = sa.Table(
    "paid_prompt_versions",
    registry_metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("project", sa.String(255), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("version", sa.String(16), nullable=False),
    sa.Column("template", sa.Text(), nullable=False),
    sa.Column("parent", sa.String(16), nullable=True),
    sa.Column("author", sa.String(255), nullable=False),
    sa.Column("note", sa.Text(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("project", "name", "version", name="paid_prompt_versions_once"),
)


class PromptNotFound(LookupError):
    """An unknown prompt name or version, or a name with no current version."""


class PromptRefused(ValueError):
    """A registry change that would leave a prompt without a current version, or is otherwise not allowed."""


@dataclass(frozen=True)
class PromptVersion:
    name: str
    version: str  # 16-hex content hash of the template
    template: str
    project: str  # "" = global
    parent: str | None
    author: str
    note: str
    created_at: datetime
    status: str  # "current" | "available" | "retired", in its own project's scope


@dataclass(frozen=True)
class PromptChoice:
    """The version a stage uses, why, and what it was chosen from (for the `prompt` decision)."""

    version: PromptVersion
    rationale: str
    candidates: tuple[str, ...]


@dataclass
class _Scope:
    current: str | None = None
    retired: frozenset[str] = frozenset()
    last_seq: int = 0


_CREATED: weakref.WeakSet[sa.Engine] = weakref.WeakSet()


def _create_tables(engine: sa.Engine) -> None:
    """Once per engine (the ledger keeps one per database and process, and makes a new one when the database was
    recreated, as the ledger's own tables are then created again too)."""
    if engine not in _CREATED:
        create_tables(registry_metadata, engine)
        _CREATED.add(engine)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class PromptRegistry:
    """Versions in `paid_prompt_versions` (in the ledger's database), their state in the ledger."""

    def __init__(self, ledger: Ledger, builtin_dir: Path = TEMPLATES_DIR) -> None:
        self.ledger = ledger
        self.engine = ledger.engine
        self.builtin_dir = builtin_dir
        self._seeded = False
        self._folded: tuple[int, dict[tuple[str, str], _Scope]] | None = None  # (latest change, the fold)
        _create_tables(self.engine)

    # --- reading ------------------------------------------------------------------------------------------

    def current(self, name: str, project: str = GLOBAL) -> PromptVersion:
        """The project's current version of `name`, else the global one."""
        self._seed_builtins()
        scopes = self._scopes()
        for scope in ([project] if project else []) + [GLOBAL]:
            chosen = scopes.get((scope, name), _Scope()).current
            if chosen is not None:
                return self._row(name, chosen, scope, scopes)
        raise PromptNotFound(f"prompt {name!r} has no current version (known: {', '.join(self.names()) or 'none'})")

    def get(self, name: str, version: str, project: str | None = None) -> PromptVersion:
        """A version by name and hash, retired ones included; a project's own record first when there are two."""
        self._seed_builtins()
        return self._row(name, version, project, self._scopes())

    def versions(self, name: str | None = None, project: str | None = None) -> list[PromptVersion]:
        """Every version (of a name, of a scope: "" = global, None = all), oldest first."""
        self._seed_builtins()
        query = sa.select(versions_table).order_by(versions_table.c.id)
        if name is not None:
            query = query.where(versions_table.c.name == name)
        if project is not None:
            query = query.where(versions_table.c.project == project)
        scopes = self._scopes()
        with self.engine.connect() as conn:
            return [self._version(row, scopes) for row in conn.execute(query)]

    def names(self) -> list[str]:
        query = sa.select(versions_table.c.name).distinct().order_by(versions_table.c.name)
        with self.engine.connect() as conn:
            return [str(n) for n in conn.execute(query).scalars()]

    def choose(self, name: str, project: str, pinned: Mapping[str, str], pinned_by: str = "") -> PromptChoice:
        """The version a run uses: the one pinned for it (an experiment's variant), else the current one."""
        candidates = tuple(v.version for v in self.visible(name, project) if v.status != RETIRED)
        if name in pinned:
            version = self.get(name, pinned[name], project)
            return PromptChoice(version, f"pinned by {pinned_by or 'the run request'}", candidates)
        version = self.current(name, project)
        scope = "the project's" if project and version.project == project else "the global"
        return PromptChoice(version, f"current ({scope} current version)", candidates)

    def visible(self, name: str, project: str) -> list[PromptVersion]:
        """The versions a project may use: its own and the global ones."""
        own = self.versions(name, project) if project else []
        return own + [v for v in self.versions(name, GLOBAL) if v.version not in {o.version for o in own}]

    # --- writing ------------------------------------------------------------------------------------------

    def add(
        self,
        name: str,
        template: str,
        author: str,
        note: str = "",
        project: str = GLOBAL,
        parent: str | None = None,
    ) -> PromptVersion:
        """A new version of `name` (not current until promoted); the same template again is the same version."""
        version, _ = self._insert(name, template, author, note, project, parent)
        return version

    def promote(self, name: str, version: str, by: str, reason: str, project: str = GLOBAL) -> bool:
        """Makes a version current in its scope (a project may promote a global version for itself); True when
        the current version changed. Two promotions of the same version from the same state record one."""
        self.get(name, version, project or None)
        scope = self._scopes().get((project, name), _Scope())
        if scope.current == version:
            return False
        key = idempotency_key(Kind.PROMPT_PROMOTED, project, name, version, scope.last_seq)
        return self._record_promotion(name, version, project, scope.current, by, reason, key)

    def retire(self, name: str, version: str, by: str, reason: str, project: str = GLOBAL) -> None:
        """Retires a version in its scope: kept and readable, no longer chosen; the current one is refused."""
        self.get(name, version, project or None)
        scope = self._scopes().get((project, name), _Scope())
        where = f"project {project}" if project else "globally"
        if scope.current == version:
            raise PromptRefused(
                f"{name} {version} is the current version {where}: promote another version first, then retire it"
            )
        if version in scope.retired:
            return
        self.ledger.append(
            STREAM,
            Kind.PROMPT_RETIRED,
            {"name": name, "version": version, "project": project, "by": by, "reason": reason},
            idempotency_key=idempotency_key(Kind.PROMPT_RETIRED, project, name, version, scope.last_seq),
        )

    def seed_from(self, directory: Path, project: str = GLOBAL, author: str = SEEDER) -> list[PromptVersion]:
        """Each `<name>.md` in the directory as a version; a template never seen before becomes current.
        Only names Paid sends are read (the built-in templates' names): other files are not prompts."""
        self._seed_builtins()  # first, so that a project's first version has the global one as its parent
        known = {p.stem for p in self.builtin_dir.glob("*.md")}
        seeded = []
        for path in sorted(directory.glob("*.md")):
            if path.stem not in known or not path.is_file():
                continue
            seeded.append(self._seed_one(path.stem, path.read_text(), project, author, str(path.name)))
        return seeded

    # --- internals ----------------------------------------------------------------------------------------

    def _seed_builtins(self) -> None:
        if not self._seeded:
            self._seeded = True
            self.seed_from(self.builtin_dir)

    def _seed_one(self, name: str, template: str, project: str, author: str, source: str) -> PromptVersion:
        """A template file's version is made current once, the first time it is seen as a file; the key names the
        version only, so two processes seeding the same new file add and promote it once."""
        version = content_hash(template)
        key = idempotency_key(Kind.PROMPT_PROMOTED, project, name, version, "seeded")
        if self.ledger.has(key):
            return self._row(name, version, project, self._scopes())
        scopes = self._scopes()
        previous = scopes.get((project, name), _Scope()).current
        if previous == version:
            return self._row(name, version, project, scopes)
        if not self._exists(project, name, version):
            parent = previous or (scopes.get((GLOBAL, name), _Scope()).current if project else None)
            parent = None if parent == version else parent
            self._insert(name, template, author, f"from {source}", project, parent)
        self._record_promotion(name, version, project, previous, author, f"{source} changed", key)
        return self._row(name, version, project, self._scopes())

    def _insert(
        self, name: str, template: str, author: str, note: str, project: str, parent: str | None
    ) -> tuple[PromptVersion, bool]:
        if not name or not name.replace("_", "").isalnum():
            raise PromptRefused(f"a prompt name is letters, digits and underscores, not {name!r}")
        if parent is not None and not self._exists(project, name, parent) and not self._exists(GLOBAL, name, parent):
            raise PromptNotFound(f"parent version {parent} of {name!r} is not in the registry")
        version = content_hash(template)
        row = {
            "project": project,
            "name": name,
            "version": version,
            "template": template,
            "parent": parent,
            "author": author,
            "note": note,
            "created_at": datetime.now(UTC),
        }
        created = True
        try:
            with self.engine.begin() as conn:
                conn.execute(versions_table.insert().values(**row))
        except IntegrityError:
            created = False  # the same template again, or another process seeding it at the same moment
        if created:
            self.ledger.append(
                STREAM,
                Kind.PROMPT_ADDED,
                {k: row[k] for k in ("name", "version", "project", "parent", "author", "note")},
                idempotency_key=idempotency_key(Kind.PROMPT_ADDED, project, name, version),
            )
        return self._row(name, version, project, self._scopes()), created

    def _record_promotion(
        self, name: str, version: str, project: str, previous: str | None, by: str, reason: str, key: str
    ) -> bool:
        data = {"name": name, "version": version, "project": project, "previous": previous, "by": by}
        recorded = self.ledger.append(STREAM, Kind.PROMPT_PROMOTED, {**data, "reason": reason}, idempotency_key=key)
        return recorded is not None

    def _exists(self, project: str, name: str, version: str) -> bool:
        query = sa.select(versions_table.c.id).where(
            versions_table.c.project == project, versions_table.c.name == name, versions_table.c.version == version
        )
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def _scopes(self) -> dict[tuple[str, str], _Scope]:
        """(project, name) → current, retired and the last change's sequence number, folded from the ledger;
        folded again only when the `prompts` stream has grown (a run asks for it several times)."""
        latest = self._latest_change()
        if self._folded is not None and self._folded[0] == latest:
            return self._folded[1]
        scopes: dict[tuple[str, str], _Scope] = {}
        for event in self.ledger.iter(stream=STREAM, kinds=[Kind.PROMPT_PROMOTED, Kind.PROMPT_RETIRED]):
            data = event.data
            scope = scopes.setdefault((str(data["project"]), str(data["name"])), _Scope())
            if event.kind == Kind.PROMPT_PROMOTED:
                scope.current = str(data["version"])
                scope.retired = scope.retired - {scope.current}
            else:
                scope.retired = scope.retired | {str(data["version"])}
            scope.last_seq = event.seq
        self._folded = (latest, scopes)
        return scopes

    def _latest_change(self) -> int:
        query = sa.select(sa.func.coalesce(sa.func.max(events_table.c.seq), 0)).where(events_table.c.stream == STREAM)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _row(
        self, name: str, version: str, project: str | None, scopes: dict[tuple[str, str], _Scope]
    ) -> PromptVersion:
        """The record of a version: the project's own when it has one, else the global one (shown with its status
        in the project's scope when a project asked)."""
        query = sa.select(versions_table).where(versions_table.c.name == name, versions_table.c.version == version)
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        if not rows:
            raise PromptNotFound(f"no version {version!r} of prompt {name!r} (see `paid prompts list {name}`)")
        own = [r for r in rows if r.project == project]
        found = self._version((own or [r for r in rows if r.project == GLOBAL] or rows)[0], scopes)
        if project and found.project != project:
            return replace(found, status=_status(scopes.get((project, name)), version) or found.status)
        return found

    @staticmethod
    def _version(row: sa.Row, scopes: dict[tuple[str, str], _Scope]) -> PromptVersion:
        return PromptVersion(
            name=row.name,
            version=row.version,
            template=row.template,
            project=row.project,
            parent=row.parent,
            author=row.author,
            note=row.note,
            created_at=_utc(row.created_at),
            status=_status(scopes.get((row.project, row.name)), row.version) or AVAILABLE,
        )


def _status(scope: _Scope | None, version: str) -> str | None:
    if scope is None:
        return None
    if scope.current == version:
        return CURRENT
    return RETIRED if version in scope.retired else None


def record_prompt_choice(
    ledger: Ledger, stream: str, name: str, choice: PromptChoice, run_id: str, bundle: Mapping[str, str], key: str
) -> None:
    """The `prompt` decision of one prompt a stage sends: the version, the versions it could have used, why."""
    context = {"prompt": name, "project": choice.version.project, "bundle": dict(bundle)}
    chosen = choice.version.version
    decision = Decision(DecisionKind.PROMPT, chosen, choice.rationale, choice.candidates, context, run_id)
    record_decision(ledger, stream, decision, idempotency_key=key)


def registry_for(ledger: Ledger, project: str, prompts_dir: str | None) -> PromptRegistry:
    """The registry as a stage of `project` uses it: the built-in templates and the project's `prompts_dir` (a
    directory named in Paid's own paid.yaml, never one in the cloned repository) seeded."""
    registry = PromptRegistry(ledger)
    if prompts_dir:
        registry.seed_from(Path(prompts_dir), project)
    return registry
