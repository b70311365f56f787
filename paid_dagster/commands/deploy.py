"""`paid deploy up|down|status|logs`: Paid as a Docker deployment on this machine (paid_dagster/deployment/)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import yaml

DEFAULT_NAME = "paid"


def register(subparsers: Any) -> None:
    deploy = subparsers.add_parser(
        "deploy", help="Paid as a Docker deployment: PostgreSQL, webserver, daemon, code server, a container per run"
    )
    sub = deploy.add_subparsers(dest="deploy_command", required=True)

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--name", default=DEFAULT_NAME, help="prefix of its containers, network and volume")
        parser.add_argument("--dir", default=None, help="state directory (default: .paid/deploy)")

    up = sub.add_parser("up", help="build the images if needed, then start or update every service")
    common(up)
    up.add_argument("--config", default=None, help="paid.yaml (default: $PAID_CONFIG or ./paid.yaml)")
    up.add_argument("--offline", action="store_true", help="against the forge and the scripted model, in containers")
    up.add_argument("--ui-port", type=int, default=3000)
    up.add_argument("--forge-port", type=int, default=8765, help="where the offline forge is published on 127.0.0.1")
    up.add_argument(
        "--sample-copy",
        action="append",
        default=[],
        metavar="OWNER/NAME",
        help="with --offline: another copy of the sample repository on the forge, watched like it (repeatable)",
    )
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="remove its containers (runs and their sandboxes included) and network")
    common(down)
    down.add_argument("--volumes", action="store_true", help="also remove the database's volume")
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="its containers and the latest runs")
    common(status)
    status.set_defaults(func=cmd_status)

    logs = sub.add_parser("logs", help="a service's log")
    common(logs)
    logs.add_argument("service", choices=["postgres", "usercode", "daemon", "webserver", "forge", "model"])
    logs.add_argument("--tail", type=int, default=200)
    logs.add_argument("-f", "--follow", action="store_true")
    logs.set_defaults(func=cmd_logs)


def _client() -> Any:
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as exc:
        raise SystemExit(f"the Docker engine is not reachable ({type(exc).__name__}): start dockerd") from exc
    return client


def _state_dir(args: argparse.Namespace) -> Path:
    from ..deployment.engine import default_state_dir

    return Path(args.dir).resolve() if args.dir else default_state_dir()


def _deployment(args: argparse.Namespace, image: str = "", config: Any = None, secrets: tuple[str, ...] = ()) -> Any:
    from ..deployment.layout import PASSED_SETTINGS, Deployment

    concurrency = config.concurrency if config is not None else None
    return Deployment(
        name=args.name,
        state_dir=_state_dir(args),
        image=image,
        max_runs=concurrency.max_runs if concurrency else 0,
        per_repository=concurrency.per_repository if concurrency else 0,
        secret_names=secrets,
        ui_port=getattr(args, "ui_port", 3000),
        offline=getattr(args, "offline", False),
        forge_port=getattr(args, "forge_port", 8765),
        sample_copies=tuple(getattr(args, "sample_copy", None) or ()),
        settings={k: os.environ[k] for k in PASSED_SETTINGS if os.environ.get(k)},
    )


def secret_names(config: Any) -> tuple[str, ...]:
    """The variables whose values the runs need and that never go into a file: the token(s), the model's key,
    and the ones paid.yaml's `secret_env` and $PAID_SECRET_ENV name."""
    names = [config.github.token_env, config.github.review_token_env, config.model.api_key_env, *config.secret_env]
    names += [n.strip() for n in os.environ.get("PAID_SECRET_ENV", "").split(",")]
    return tuple(dict.fromkeys(n for n in names if n))


def _user_config(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """paid.yaml as the user wrote it (checked by Paid's schema) and its parsed settings; offline, the stand-ins'."""
    from ..config import ConfigError, load_config

    if args.offline:
        from ..cli import offline_config
        from ..deployment.engine import FORGE_TOKEN_ENV
        from ..deployment.layout import FORGE_PORT, MODEL_PORT

        raw = offline_config(
            f"http://{args.name}-forge:{FORGE_PORT}",
            f"http://{args.name}-model:{MODEL_PORT}/v1",
            Path("/unused"),  # replaced by the deployment's work directory
            "docker",
        )
        raw["github"]["token_env"] = FORGE_TOKEN_ENV
        template = raw["repositories"][0]
        raw["repositories"] += [{**template, "name": name} for name in args.sample_copy]
        raw.setdefault("concurrency", {"max_runs": 4, "per_repository": 2})
        path = _state_dir(args) / "offline.paid.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(raw, sort_keys=False))
    else:
        path = Path(args.config or os.environ.get("PAID_CONFIG") or "paid.yaml")
        if not path.is_file():
            raise SystemExit(f"{path}: no paid.yaml (`paid init` writes one; `--offline` needs none)")
        raw = yaml.safe_load(path.read_text()) or {}
    try:
        config = load_config(str(path))
    except ConfigError as exc:
        raise SystemExit("\n".join(exc.problems)) from exc
    return raw, config


def cmd_up(args: argparse.Namespace) -> int:
    from ..deployment.engine import FORGE_TOKEN_ENV, DeployError, up
    from ..deployment.images import ImageBuildFailed, ensure_images

    raw, config = _user_config(args)
    names = secret_names(config)
    if not args.offline:
        missing = [n for n in (config.github.token_env, config.model.api_key_env) if n and not os.environ.get(n)]
        if missing:
            raise SystemExit(f"not set in this environment: {', '.join(missing)} (export them, then `up` again)")
    client = _client()
    try:
        images = ensure_images(client)
    except ImageBuildFailed as exc:
        raise SystemExit(str(exc)) from exc
    secrets = {n: os.environ[n] for n in names if os.environ.get(n)}
    passed = tuple(n for n in names if n in secrets) + ((FORGE_TOKEN_ENV,) if args.offline else ())
    deployment = _deployment(args, images.app, config, tuple(dict.fromkeys(passed)))
    try:
        up(client, deployment, raw, secrets)
    except DeployError as exc:
        raise SystemExit(str(exc)) from exc
    if args.offline:
        print(f"forge on http://127.0.0.1:{args.forge_port} (tokens in {deployment.state_dir / 'forge'})")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from ..deployment.engine import down

    down(_client(), _deployment(args), volumes=args.volumes)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from ..deployment.engine import DeployError, runs, status

    client = _client()
    deployment = _deployment(args)
    states = status(client, deployment)
    if not states:
        print(f"deployment {args.name!r}: nothing running")
        return 1
    for state in states:
        print(f"{state.role:10} {state.name:30} {state.status}" + (f"  run {state.run_id}" if state.run_id else ""))
    try:
        for run in runs(client, deployment)[:10]:
            print(f"run {run['run_id']}  {run['status']:10} {run['tags'].get('dagster/partition', '')}")
    except Exception as exc:  # the webserver may be down: the containers' states are the answer then
        print(f"runs: not available ({type(exc).__name__}: {exc})", file=sys.stderr)
        return 0 if not isinstance(exc, DeployError) else 1
    return 0


def cmd_logs(args: argparse.Namespace) -> int:
    from ..deployment.engine import logs
    from ..secrets import SECRETS

    deployment = _deployment(args)
    password = deployment.password_file
    extra = [password.read_text().strip()] if password.exists() else []
    for chunk in logs(_client(), deployment, args.service, tail=args.tail, follow=args.follow):
        sys.stdout.write(SECRETS.mask(chunk.decode(errors="replace"), extra=extra))
        sys.stdout.flush()
    return 0
