"""A forge populated with one of everything, for tests that compare shapes or read every endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from paid_standins.forge import Forge, SampleSeed

FIX_FILES_CHANGE = ("shopcart/cart.py", "range(1, len(items))", "range(len(items))")


@dataclass(frozen=True)
class Scenario:
    repo: str
    issue: int
    pull: int
    comment_id: int
    head_sha: str
    branch: str
    review_id: int
    check_run_id: int


def push_fix_branch(forge: Forge, repo: str, branch: str) -> str:
    """Commits a change on `branch` directly in the bare repository (tests of git over HTTP push for real)."""
    from paid_standins.forge.gitrepo import BareRepo

    bare = BareRepo(forge.git_dir(repo))
    path, old, new = FIX_FILES_CHANGE
    content = bare.git("show", f"main:{path}").replace(old, new)
    files = {
        name: bare.git("show", f"main:{name}") for name in bare.git("ls-tree", "-r", "--name-only", "main").split()
    }
    files[path] = content
    bare.update_ref(f"refs/heads/{branch}", bare.ref_sha("refs/heads/main") or "")
    sha = bare.import_files(branch, files, "Count every item in the cart")
    forge.service.after_push(forge.repo(repo))
    return sha


def build(forge: Forge, seed: SampleSeed) -> Scenario:
    repo = seed.repo
    admin, writer, outsider = (forge.as_user(x) for x in (seed.admin, seed.writer, seed.outsider))
    writer.label(repo, seed.issue_number, "paid-build", "bug")
    writer.unlabel(repo, seed.issue_number, "bug")
    comment_id = outsider.comment(repo, seed.issue_number, "Same here, +1")
    writer.react(repo, seed.issue_number, "+1")
    admin.react_to_comment(repo, comment_id, "heart")
    sha = push_fix_branch(forge, repo, "paid/1-cart-total")
    service = forge.service
    pull_issue = service.create_pull(
        forge.repo(repo),
        forge.user(seed.bot),
        "Count every item",
        "paid/1-cart-total",
        "main",
        "Closes #1",
        draft=False,
    )
    pull = int(pull_issue["number"])
    service.edit_issue(forge.repo(repo), pull_issue, forge.user(seed.admin), {"assignee": seed.writer})
    service.edit_issue(
        forge.repo(repo),
        forge.service.find_issue(forge.repo(repo), seed.issue_number),
        forge.user(seed.admin),
        {"assignee": seed.writer},
    )
    review_id = admin.review(
        repo,
        pull,
        "REQUEST_CHANGES",
        "Please add a test",
        [{"path": "shopcart/cart.py", "line": 15, "body": "Why not sum()?"}],
    )
    forge.service.lock(
        forge.repo(repo),
        forge.service.find_issue(forge.repo(repo), seed.issue_number),
        forge.user(seed.admin),
        "too heated",
        True,
    )
    forge.service.lock(
        forge.repo(repo),
        forge.service.find_issue(forge.repo(repo), seed.issue_number),
        forge.user(seed.admin),
        None,
        False,
    )
    admin.status(repo, sha, "success", "ci/tests", "All green")
    check_run_id = admin.check_run(repo, sha, "pytest", "success", "3 passed")
    return Scenario(repo, seed.issue_number, pull, comment_id, sha, "paid/1-cart-total", review_id, check_run_id)
