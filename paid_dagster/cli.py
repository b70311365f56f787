"""`paid`: the demo, the doctor, config scaffolding and the offline stand-ins."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from .commands import experiments as experiments_command
from .commands import operate, prompts
from .secrets import mask_log_records

warnings.filterwarnings("ignore", message=".*is currently in beta.*")

DEMO_FORGE_PORT = 8765
DEMO_MODEL_PORT = 8766
EXAMPLE_CONFIG = """\
# paid.yaml: what Paid watches and how it works. `paid doctor` checks this file and the environment.
github:
  base_url: https://api.github.com     # GitHub Enterprise: https://HOST/api/v3; the forge: http://127.0.0.1:8765
  token_env: GITHUB_TOKEN              # the variable holding the token (never the token itself)
  seconds_between_writes: 1.0
model:
  name: anthropic/claude-sonnet-4-5    # any litellm model string
  api_key_env: ANTHROPIC_API_KEY
  fallbacks: []
limits:
  max_turns: 40
  wall_time_seconds: 1800
  cost_ceiling_usd: 3.0
first_tick_backlog: 10
defaults:
  trigger_label: paid-build
  trusted_permissions: [write, maintain, admin]
  branch_prefix: paid/
  sandbox: auto                        # bubblewrap when installed; `local` only by explicit choice
repositories:
  - name: your-org/your-repo
"""


def default_home() -> Path:
    """Where the demo keeps its state (the stand-ins and its Dagster instance): $PAID_DEMO_DIR, else `.paid`
    in the current directory (the checkout's root under `make demo`)."""
    return Path(os.environ.get("PAID_DEMO_DIR") or ".paid")


def instance_template() -> str:
    """Paid's dagster.yaml (PostgreSQL's when DAGSTER_PG_HOST is set), from the installed package's data."""
    name = "dagster.postgres.yaml" if os.environ.get("DAGSTER_PG_HOST") else "dagster.yaml"
    return resources.files("paid_dagster").joinpath("instance", name).read_text()


def ensure_dagster_home(home: Path) -> Path:
    """A DAGSTER_HOME holding a dagster.yaml; an existing one is kept as it is."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(instance_template())
    return home


def apply_concurrency(home: Path, config_path: Path) -> None:
    """The instance's run queue set from paid.yaml's `concurrency:` (global and per-repository caps)."""
    from .concurrency import with_run_coordinator
    from .config import load_config

    instance = home / "dagster.yaml"
    instance.write_text(with_run_coordinator(instance.read_text(), load_config(config_path).concurrency))


def _wait_for_port(port: int, timeout: float = 60.0) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.3)
    return False


# --- demo ---------------------------------------------------------------------------------------


def require_standins(command: str) -> None:
    """The demo, the forge and the scripted model live in a separate distribution the product never needs."""
    try:
        import paid_standins  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"`paid {command}` needs Paid's offline stand-ins (the forge and the scripted model), which are not"
            " installed: `pip install ./standins` from Paid's repository (`make demo` does it)"
        ) from None


def offline_config(forge_url: str, api_base: str, work_dir: Path, sandbox: str) -> dict[str, Any]:
    """The stand-ins' paid.yaml (the sample repository, the scripted model) for other addresses: `paid deploy up
    --offline` runs them in containers."""
    require_standins("deploy up --offline")
    from paid_standins.forge.seed import SAMPLE_REPO
    from paid_standins.stack import stack_config

    return stack_config(forge_url, api_base, SAMPLE_REPO, work_dir, sandbox)


def cmd_demo(args: argparse.Namespace) -> int:
    require_standins("demo")
    from dagster import AssetKey, DagsterInstance
    from paid_standins.stack import start_stack

    base = Path(args.dir).resolve()
    if args.fresh and base.exists():
        shutil.rmtree(base)
    home = ensure_dagster_home(base / "dagster_home")
    os.environ["DAGSTER_HOME"] = str(home)
    stack = start_stack(base / "stack", forge_port=args.forge_port, model_port=args.model_port)
    os.environ["PAID_CONFIG"] = str(stack.config_path)
    os.environ.setdefault("PAID_LEDGER_URL", f"sqlite:///{home / 'paid_ledger.sqlite3'}")
    try:
        from paid_standins.inprocess import sensor_tick

        from .definitions import defs
        from .keys import issue_key

        seed = stack.seed
        writer = stack.forge.as_user(seed.writer)
        issue = stack.forge.service.find_issue(stack.forge.repo(seed.repo), seed.issue_number)
        if any(label["name"] == "paid-build" for label in stack.forge.store.labels_of(issue["id"])):
            writer.unlabel(seed.repo, seed.issue_number, "paid-build")  # a demo re-run is a new attempt
        print(f"1. {seed.writer} (write permission) labels {seed.repo}#{seed.issue_number} `paid-build`")
        writer.label(seed.repo, seed.issue_number, "paid-build")
        cursor_file = base / "sensor-cursor.json"
        cursor = cursor_file.read_text() if cursor_file.exists() else None
        instance = DagsterInstance.get()
        print("2. the label sensor ticks; the build job runs:")
        print("   github_issue → triage → agent_run → pull_request → review")
        started = time.monotonic()
        tick = sensor_tick(instance, defs, cursor, log_level="WARNING")
        if tick.cursor:
            cursor_file.write_text(tick.cursor)
        if not tick.launched:
            print(f"   no run: {tick.skip_reason or tick}", file=sys.stderr)
            return 1
        event = instance.get_latest_materialization_event(AssetKey("pull_request"))
        meta = event.asset_materialization.metadata if event and event.asset_materialization else {}
        run_event = instance.get_latest_materialization_event(AssetKey("agent_run"))
        run_meta = run_event.asset_materialization.metadata if run_event and run_event.asset_materialization else {}
        print(f"3. done in {time.monotonic() - started:.1f} s; the rollups are brought up to date:")
        for line in materialize_rollups(instance, defs, issue_key(seed.repo, seed.issue_number)):
            print(f"   {line}")
        print()
        print(f"   pull request : {meta['pr_url'].value if 'pr_url' in meta else '(none)'}")
        print(f"   outcome      : {run_meta['outcome'].value if 'outcome' in run_meta else '?'}")
        review_event = instance.get_latest_materialization_event(AssetKey("review"))
        review_meta: Mapping[str, Any] = {}
        if review_event and review_event.asset_materialization:
            review_meta = review_event.asset_materialization.metadata
        if "tier" in review_meta:
            tier, rounds = review_meta["tier"].value, review_meta["review_rounds"].value
            print(f"   review       : risk tier {tier}, {rounds} round(s)")
        print(f"   model        : {meta['model'].value if 'model' in meta else '?'}")
        print(f"   turns        : {meta['turns'].value if 'turns' in meta else '?'}")
        tokens = f"{meta['tokens_in'].value} in / {meta['tokens_out'].value} out" if "tokens_in" in meta else "?"
        print(f"   tokens       : {tokens}")
        print(f"   cost         : ${meta['cost_usd'].value:.5f}" if "cost_usd" in meta else "   cost: ?")
        if "diff_stat" in run_meta:
            print(
                "   diff stat    :\n"
                + "\n".join("     " + line for line in str(run_meta["diff_stat"].value).strip("`\n").splitlines())
            )
        print("\nOpen the Dagster UI on this instance (lineage, partitions, metadata, history):")
        print(f"   paid ui --dir {base}        # in the checkout: make ui")
        print(f"   then browse http://127.0.0.1:{args.ui_port}  (DAGSTER_HOME={home})")
    finally:
        stack.stop()
    if args.ui:
        return cmd_ui(
            argparse.Namespace(
                dir=str(base), forge_port=args.forge_port, model_port=args.model_port, ui_port=args.ui_port
            )
        )
    return 0


def materialize_rollups(instance: Any, defs: Any, partition: str) -> list[str]:
    """The issue's quality score, today's costs, the projects' spend, the prompt outcomes and registry, as the PR sensor
    and the automation sensor would bring them: the demo's UI shows them materialized, not "never"."""
    from datetime import UTC, datetime

    from dagster import AssetKey

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    done = []
    for job, key in (("paid_score", partition), ("paid_costs", today)):
        result = defs.resolve_job_def(job).execute_in_process(
            instance=instance, partition_key=key, raise_on_error=False
        )
        done.append(f"{job}[{key}]: {'ok' if result.success else 'failed'}")
    names = ("project_spend", "prompt_outcomes", "prompt_registry", "decisions", "quality_signals")
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=instance, asset_selection=[AssetKey(name) for name in names], raise_on_error=False
    )
    done.append(f"{', '.join(names)}: {'ok' if result.success else 'failed'}")
    return done


def cmd_ui(args: argparse.Namespace) -> int:
    """Runs the stand-ins from the demo's saved state and `dagster dev` on the demo's instance."""
    require_standins("ui")
    from paid_standins.stack import start_stack

    base = Path(args.dir).resolve()
    home = ensure_dagster_home(base / "dagster_home")
    stack = start_stack(base / "stack", forge_port=args.forge_port, model_port=args.model_port)
    apply_concurrency(home, stack.config_path)
    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "PAID_CONFIG": str(stack.config_path),
            "PAID_LEDGER_URL": env.get("PAID_LEDGER_URL", f"sqlite:///{home / 'paid_ledger.sqlite3'}"),
        }
    )
    print(f"Dagster UI on http://127.0.0.1:{args.ui_port}  (forge {stack.forge.url}, Ctrl-C to stop)")
    # The installed package's definitions, by module: no workspace file, nothing read from a checkout.
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dagster",
            "dev",
            "-m",
            "paid_dagster.definitions",
            "-h",
            "127.0.0.1",
            "-p",
            str(args.ui_port),
        ],
        env=env,
        cwd=base,
        start_new_session=True,  # its own process group: the webserver, the daemon and their code servers
        preexec_fn=as_from_a_shell,  # so that the SIGINT of `stop_group` reaches it however `paid ui` was started
    )

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt  # a SIGTERM ends `paid ui` the way Ctrl-C does, with everything it started

    signal.signal(signal.SIGTERM, stop)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return stop_group(proc)
    finally:
        stop_group(proc)
        stack.stop()


def as_from_a_shell() -> None:
    """`preexec_fn` for a long-lived child: the signal state a shell gives a command (nothing ignored, nothing
    blocked). An ignored signal is inherited, and a background job of a non-interactive shell ignores SIGINT: a
    `dagster dev` started under it would ignore the SIGINT that stops it gracefully, and wait for the SIGKILL."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, signal.SIG_DFL)


def stop_group(proc: subprocess.Popen[bytes], grace_seconds: float = 30.0) -> int:
    """Stops `dagster dev` and every process it started (they share its process group); SIGKILL after a grace."""
    for sig, wait in ((signal.SIGINT, grace_seconds), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        if not _group_alive(proc.pid):
            break
        time.sleep(1)
    return proc.returncode if proc.returncode is not None else -9


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# --- doctor -----------------------------------------------------------------------------------------


def diagnose(config_path: str | None) -> list[str]:
    """Every problem with paid.yaml and the environment, each with its fix."""
    from .config import ConfigError, load_config
    from .github.client import GitHubClient, GitHubError
    from .sandbox import SandboxUnavailable, open_sandbox

    problems: list[str] = []
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        return list(exc.problems)
    try:
        token = config.github_token()
    except ConfigError as exc:
        problems.extend(exc.problems)
        token = None
    if token:
        client = GitHubClient(config.github, token)
        try:
            login = client.whoami()
            print(f"ok  GitHub at {config.github.base_url} as {login}")
            for repo in config.repositories:
                try:
                    found = client.repo(repo.name)
                    permission = client.permission(repo.name, login)
                    if permission not in ("write", "maintain", "admin"):
                        problems.append(
                            f"{repo.name}: the token's user {login} has {permission!r} permission;"
                            " Paid needs write to push branches and open pull requests"
                        )
                    else:
                        print(f"ok  {found.full_name} ({permission})")
                except GitHubError as exc:
                    problems.append(f"{repo.name}: {exc}")
        except GitHubError as exc:
            problems.append(str(exc))
    if config.model.api_key_env and not os.environ.get(config.model.api_key_env):
        problems.append(f"model: {config.model.api_key_env} is not set: export the API key for {config.model.name}")
    from .learning.catalogue import ModelCatalogue

    problems.extend(f"models: {why}" for why in ModelCatalogue.for_config(config).unpriced.values())
    for repo in config.repositories:
        try:
            open_sandbox(repo.sandbox, Path(config.work_dir)).close()
        except SandboxUnavailable as exc:
            problems.append(f"{repo.name}: {exc}")
    if not os.environ.get("DAGSTER_HOME"):
        problems.append(
            "DAGSTER_HOME is not set: point it at a directory holding dagster.yaml (`paid demo` makes one in"
            " .paid/dagster_home)"
        )
    return problems


def cmd_doctor(args: argparse.Namespace) -> int:
    problems = diagnose(args.config)
    for problem in problems:
        print(f"PROBLEM  {problem}")
    print("all good" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def cmd_resume(args: argparse.Namespace) -> int:
    """Lifts a project's quality-gate pause (recorded as a `gate.resumed` event)."""
    from .ledger import Ledger
    from .outcomes.gates import gate_state, resume

    ledger = Ledger(args.ledger_url or None)
    paused, why = gate_state(ledger, args.project)
    if not paused:
        print(f"{args.project} is not paused")
        return 0
    resume(ledger, args.project, args.by or os.environ.get("USER", "cli"))
    print(f"{args.project} resumed (it was paused: {why})")
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.exists() and not args.force:
        print(f"{path} exists; use --force to overwrite", file=sys.stderr)
        return 1
    path.write_text(EXAMPLE_CONFIG)
    print(f"wrote {path}: list your repositories, then run `paid doctor`")
    return 0


# --- stand-ins ---------------------------------------------------------------------------------------


def cmd_forge_serve(args: argparse.Namespace) -> int:
    require_standins("forge serve")
    from paid_standins.forge import Forge, seed_sample
    from paid_standins.forge.seed import add_sample_copies

    forge = Forge(args.dir, host=args.host, port=args.port)
    if args.seed == "sample":
        forge.start()
        seed = seed_sample(forge)
        add_sample_copies(forge, seed, args.copy)
        print(json.dumps({"url": forge.url, "repo": seed.repo, "tokens": seed.tokens}, indent=2), flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            forge.stop()
            return 0
    print(f"forge on http://127.0.0.1:{args.port}", flush=True)
    forge.serve_forever()
    return 0


def cmd_model_serve(args: argparse.Namespace) -> int:
    require_standins("model serve")
    from paid_standins.model import Script, ScriptedModelServer

    server = ScriptedModelServer(Script.load(args.script), host=args.host, port=args.port)
    print(f"scripted model at {server.api_base}", flush=True)
    server.serve_forever()
    return 0


def main(argv: list[str] | None = None) -> int:
    mask_log_records()
    parser = argparse.ArgumentParser(prog="paid", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="label → agent → PR offline, on a persistent Dagster instance")
    demo.add_argument("--dir", default=str(default_home()))
    demo.add_argument("--fresh", action="store_true", help="start from an empty forge and instance")
    demo.add_argument("--ui", action="store_true", help="then open the Dagster UI")
    demo.add_argument("--forge-port", type=int, default=DEMO_FORGE_PORT)
    demo.add_argument("--model-port", type=int, default=DEMO_MODEL_PORT)
    demo.add_argument("--ui-port", type=int, default=3000)
    demo.set_defaults(func=cmd_demo)

    ui = sub.add_parser("ui", help="the Dagster UI on the demo's instance, with the stand-ins running")
    ui.add_argument("--dir", default=str(default_home()))
    ui.add_argument("--forge-port", type=int, default=DEMO_FORGE_PORT)
    ui.add_argument("--model-port", type=int, default=DEMO_MODEL_PORT)
    ui.add_argument("--ui-port", type=int, default=3000)
    ui.set_defaults(func=cmd_ui)

    doctor = sub.add_parser("doctor", help="check paid.yaml and the environment")
    doctor.add_argument("--config", default=None)
    doctor.set_defaults(func=cmd_doctor)

    resume_cmd = sub.add_parser("resume", help="lift a project's quality-gate pause")
    resume_cmd.add_argument("project", help="owner/name")
    resume_cmd.add_argument("--by", default=None)
    resume_cmd.add_argument("--ledger-url", default=None, help="default: $PAID_LEDGER_URL or Dagster's database")
    resume_cmd.set_defaults(func=cmd_resume)

    init = sub.add_parser("init", help="write a paid.yaml to fill in")
    init.add_argument("path", nargs="?", default="paid.yaml")
    init.add_argument("--force", action="store_true")
    init.set_defaults(func=cmd_init)

    forge = sub.add_parser("forge", help="the local GitHub stand-in")
    forge_sub = forge.add_subparsers(dest="forge_command", required=True)
    serve = forge_sub.add_parser("serve")
    serve.add_argument("--dir", required=True)
    serve.add_argument("--port", type=int, default=DEMO_FORGE_PORT)
    serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container (`paid deploy up --offline`)")
    serve.add_argument("--seed", choices=["sample", "none"], default="none")
    serve.add_argument(
        "--copy", action="append", default=[], metavar="OWNER/NAME", help="with --seed sample: another copy of it"
    )
    serve.set_defaults(func=cmd_forge_serve)

    model = sub.add_parser("model", help="the scripted model (OpenAI-compatible, for litellm)")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    model_serve = model_sub.add_parser("serve")
    model_serve.add_argument("--script", default="demo")
    model_serve.add_argument("--port", type=int, default=DEMO_MODEL_PORT)
    model_serve.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container (`paid deploy up --offline`)")
    model_serve.set_defaults(func=cmd_model_serve)

    prompts.register(sub)
    operate.register(sub)
    experiments_command.register(sub)
    from .commands import deploy as deploy_commands

    deploy_commands.register(sub)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
