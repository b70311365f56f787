"""Git data over REST: refs, branches and commits, read from the bare repository."""

from __future__ import annotations

from ..service import ApiError, not_found
from .base import Api, Reply, Request, paged


def get_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    ref = "refs/" + req.params["ref"]
    sha = api.service.git(repo).refs(ref).get(ref)
    if sha is None:
        raise not_found()
    return Reply(200, api.shapes.ref(repo, ref, sha))


def matching_refs(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    prefix = "refs/" + req.params["ref"]
    refs = sorted(api.service.git(repo).refs("refs/").items())
    return paged(req, [r for r in refs if r[0].startswith(prefix)], lambda r: api.shapes.ref(repo, r[0], r[1]))


def list_refs(api: Api, req: Request) -> Reply:
    """`git/refs/heads` lists the branches; a full ref name answers that one ref, not a list."""
    repo = api.repo(req)
    prefix = "refs/" + req.params.get("ref", "").strip("/")
    refs = sorted(api.service.git(repo).refs("refs/").items())
    matching = [r for r in refs if r[0] == prefix or r[0].startswith(prefix.rstrip("/") + "/")]
    if not matching:
        raise not_found()
    exact = [r for r in matching if r[0] == prefix]
    if exact:
        return Reply(200, api.shapes.ref(repo, exact[0][0], exact[0][1]))
    return paged(req, matching, lambda r: api.shapes.ref(repo, r[0], r[1]))


def create_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    ref, sha = req.json_field("ref", ""), req.json_field("sha", "")
    api.service.create_ref(repo, req.actor(), ref, sha)
    return Reply(201, api.shapes.ref(repo, ref, api.service.git(repo).ref_sha(ref) or sha))


def update_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    ref = "refs/" + req.params["ref"]
    api.service.update_ref(repo, req.actor(), ref, req.json_field("sha", ""), bool(req.json_field("force")))
    return Reply(200, api.shapes.ref(repo, ref, req.json_field("sha", "")))


def delete_ref(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    api.service.delete_ref(repo, req.actor(), "refs/" + req.params["ref"])
    return Reply(204)


def list_branches(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    heads = sorted(api.service.git(repo).refs("refs/heads/").items())
    return paged(req, heads, lambda h: api.shapes.short_branch(repo, h[0].removeprefix("refs/heads/"), h[1]))


def get_branch(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    bare = api.service.git(repo)
    sha = bare.ref_sha(f"refs/heads/{req.params['branch']}")
    if sha is None:
        raise ApiError(404, "Branch not found")
    return Reply(200, api.shapes.branch(repo, req.params["branch"], bare.commit(sha)))


def get_commit(api: Api, req: Request) -> Reply:
    repo = api.repo(req)
    sha = api.service.resolve_sha(repo, req.params["ref"])
    bare = api.service.git(repo)
    info = bare.commit(sha)
    shaped = api.shapes.commit(repo, info)
    parent = info.parents[0] if info.parents else None
    changes = bare.changed_files(parent, sha) if parent else []
    shaped["stats"] = {
        "total": sum(c.additions + c.deletions for c in changes),
        "additions": sum(c.additions for c in changes),
        "deletions": sum(c.deletions for c in changes),
    }
    shaped["files"] = [api.shapes.pull_file(repo, sha, c) for c in changes]
    return Reply(200, shaped)
