"""PyGithub, used as a user would against github.com, against every endpoint the forge serves."""

from __future__ import annotations

import base64
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from github import (
    BadCredentialsException,
    Github,
    GithubException,
    RateLimitExceededException,
    UnknownObjectException,
)
from github.GithubRetry import GithubRetry
from paid_standins.forge import Forge, SampleSeed

from . import scenario


def git(*args: str, cwd: Path | None = None, token: str | None = None) -> str:
    config = []
    if token:
        basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
        config = ["-c", f"http.extraHeader=Authorization: Basic {basic}"]
    identity = ["-c", "user.name=Wendy", "-c", "user.email=wendy-writer@forge.local"]
    out = subprocess.run(["git", *config, *identity, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise AssertionError(f"git {args} failed: {out.stderr}")
    return out.stdout


def test_users_repository_and_rate_limit(sample: SampleSeed, github_as: Callable[..., Github]) -> None:
    gh = github_as(sample.writer)
    assert gh.get_user().login == sample.writer
    assert gh.get_user(sample.admin).login == sample.admin
    repo = gh.get_repo(sample.repo)
    assert repo.full_name == sample.repo and repo.default_branch == "main" and repo.permissions.push
    assert repo.organization.login == "octo-org"
    before = gh.get_rate_limit().resources.core
    gh.get_repo(sample.repo)
    after = gh.get_rate_limit().resources.core
    assert before.limit == 5000 and after.remaining == before.remaining - 1
    assert gh.rate_limiting[1] == 5000


def test_issue_lifecycle_labels_comments_events_reactions(sample: SampleSeed, github_as: Callable[..., Github]) -> None:
    gh = github_as(sample.writer)
    repo = gh.get_repo(sample.repo)
    issue = repo.create_issue("Totals are wrong", body="Body", labels=["bug"])
    assert [label.name for label in issue.labels] == ["bug"]
    issue.add_to_labels("paid-build")
    issue.remove_from_labels("bug")
    issue.set_labels("paid-build", "triaged")
    assert sorted(label.name for label in issue.get_labels()) == ["paid-build", "triaged"]
    comment = issue.create_comment("Looking into it")
    assert [c.body for c in issue.get_comments()] == ["Looking into it"]
    assert next(iter(issue.get_comments(since=comment.created_at))).id == comment.id
    issue.create_reaction("+1")
    comment.create_reaction("heart")
    assert [r.content for r in issue.get_reactions()] == ["+1"]
    assert [r.content for r in comment.get_reactions()] == ["heart"]
    events = [(e.event, e.actor.login, e.label.name if e.label else None) for e in issue.get_events()]
    assert ("labeled", sample.writer, "paid-build") in events and (
        "unlabeled",
        sample.writer,
        "bug",
    ) in events
    labeled = [e for e in issue.get_events() if e.event == "labeled"]
    assert len({e.id for e in labeled}) == len(labeled)  # stable, distinct ids
    timeline = [t.event for t in issue.get_timeline()]
    assert "commented" in timeline and "labeled" in timeline
    issue.edit(title="Totals are still wrong", state="closed")
    assert repo.get_issue(issue.number).state == "closed"
    issue.lock("resolved")
    assert repo.get_issue(issue.number).locked
    issue.unlock()
    label = repo.create_label("needs-info", "ededed", "More detail wanted")  # writer may create labels
    assert repo.get_label("needs-info").description == "More detail wanted"
    label.edit("needs-info", "ffffff")
    assert "needs-info" in [lab.name for lab in repo.get_labels()]


def test_issue_list_filters_sort_since_and_pagination_over_250(
    forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]
) -> None:
    writer = forge.as_user(sample.writer)
    for n in range(250):
        writer.create_issue(sample.repo, f"Issue {n}", labels=["paid-build"] if n % 5 == 0 else None)
    gh = github_as(sample.writer, per_page=100)
    repo = gh.get_repo(sample.repo)
    mark = forge.request_mark()
    numbers = [i.number for i in repo.get_issues(state="all")]
    assert len(numbers) == 251 and numbers == sorted(numbers, reverse=True)
    pages = [r for r in forge.requests(mark) if "/issues" in r.path]
    assert len(pages) == 3  # 100 + 100 + 51, following the Link header
    labeled = list(repo.get_issues(labels=["paid-build"]))
    assert len(labeled) == 50
    asc = [i.number for i in repo.get_issues(sort="created", direction="asc")]
    assert asc[:3] == [1, 2, 3]
    newest = repo.get_issue(7)
    newest.create_comment("bump")
    since = repo.get_issue(7).updated_at
    assert 7 in [i.number for i in repo.get_issues(since=since)]
    raw = requests.get(
        f"{forge.url}/repos/{sample.repo}/issues?per_page=10&page=2",
        headers={"Authorization": f"token {forge.token(sample.writer)}"},
        timeout=10,
    )
    link = raw.headers["Link"]
    assert 'rel="next"' in link and 'rel="prev"' in link and 'rel="last"' in link and 'rel="first"' in link


def test_pull_requests_appear_in_the_issue_list(
    forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]
) -> None:
    sc = scenario.build(forge, sample)
    issues = {i.number: i for i in github_as(sample.writer).get_repo(sample.repo).get_issues(state="all")}
    assert issues[sc.pull].pull_request is not None and issues[sc.issue].pull_request is None
    assert issues[sc.pull].as_pull_request().head.ref == sc.branch


def test_conditional_requests_answered_304_spend_nothing(
    forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]
) -> None:
    gh = github_as(sample.writer)
    repo = gh.get_repo(sample.repo)
    assert repo.update() is False  # PyGithub's own conditional refresh: 304, nothing changed
    url = f"/repos/{sample.repo}/issues"
    headers, _ = gh.requester.requestJsonAndCheck("GET", url, parameters={"labels": "paid-build"})
    etag = headers["etag"]
    remaining = int(headers["x-ratelimit-remaining"])
    mark = forge.request_mark()
    status, again, _ = gh.requester.requestJson(
        "GET", url, parameters={"labels": "paid-build"}, headers={"If-None-Match": etag}
    )
    assert status == 304 and int(again["x-ratelimit-remaining"]) == remaining
    assert [(r.status, r.counted) for r in forge.requests(mark)] == [(304, False)]
    forge.as_user(sample.admin).label(sample.repo, 1, "paid-build")
    status, changed, _ = gh.requester.requestJson(
        "GET", url, parameters={"labels": "paid-build"}, headers={"If-None-Match": etag}
    )
    assert status == 200 and changed["etag"] != etag and int(changed["x-ratelimit-remaining"]) == remaining - 1
    # Changes that live in git, not in the database, also invalidate an ETag.
    branches = f"/repos/{sample.repo}/branches"
    tag = gh.requester.requestJsonAndCheck("GET", branches)[0]["etag"]
    assert gh.requester.requestJson("GET", branches, headers={"If-None-Match": tag})[0] == 304
    forge.as_user(sample.admin).service.create_ref(
        forge.repo(sample.repo),
        forge.user(sample.admin),
        "refs/heads/new",
        forge.service.git(forge.repo(sample.repo)).ref_sha("refs/heads/main") or "",
    )
    assert gh.requester.requestJson("GET", branches, headers={"If-None-Match": tag})[0] == 200


def test_errors_surface_as_pygithub_exceptions(
    forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]
) -> None:
    from github import Auth

    bad = Github(base_url=forge.url, auth=Auth.Token("ghp_wrong"), retry=None)
    with pytest.raises(BadCredentialsException):
        bad.get_user().login  # noqa: B018
    gh = github_as(sample.writer)
    with pytest.raises(UnknownObjectException):
        gh.get_repo("octo-org/missing")
    repo = gh.get_repo(sample.repo)
    with pytest.raises(GithubException) as invalid:
        repo.create_pull(title="x", body="", head="no-such-branch", base="main")
    assert invalid.value.status == 422 and invalid.value.data["errors"][0]["field"] == "head"
    forge.set_faults(exhaust_primary=True)
    with pytest.raises(RateLimitExceededException):
        repo.get_issue(1)
    forge.clear_faults()
    forge.set_faults(secondary_rate_limit_next=1, retry_after=1)
    with pytest.raises(RateLimitExceededException) as secondary:
        repo.get_issue(1)
    assert secondary.value.headers["retry-after"] == "1"
    forge.set_faults(too_many_requests_next=1)
    with pytest.raises(GithubException) as too_many:
        repo.get_issue(1)
    assert too_many.value.status == 429
    forge.set_faults(error_rate=1.0, error_status=503)
    with pytest.raises(GithubException) as unavailable:
        repo.get_issue(1)
    assert unavailable.value.status == 503
    forge.clear_faults()


def test_pygithub_retry_honours_retry_after(forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]) -> None:
    gh = github_as(sample.writer, retry=GithubRetry(total=3, backoff_factor=0.01, secondary_rate_wait=1))
    forge.set_faults(secondary_rate_limit_next=1, retry_after=1)
    mark = forge.request_mark()
    assert gh.get_repo(sample.repo).name == "shopcart"
    assert [r.status for r in forge.requests(mark)] == [403, 200]


def test_permissions_are_enforced_on_writes(forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]) -> None:
    outsider = github_as(sample.outsider).get_repo(sample.repo)
    issue = outsider.get_issue(1)
    with pytest.raises(GithubException) as denied:
        issue.add_to_labels("paid-build")
    assert denied.value.status == 403
    issue.create_comment("outsiders may comment")
    admin = github_as(sample.admin).get_repo(sample.repo)
    assert admin.get_collaborator_permission(sample.writer) == "write"
    assert admin.get_collaborator_permission(sample.admin) == "admin"
    assert admin.get_collaborator_permission(sample.outsider) in ("read", "none")
    forge.grant(sample.repo, sample.outsider, "triage")
    issue.add_to_labels("triaged")
    with pytest.raises(GithubException):
        outsider.create_git_ref("refs/heads/sneaky", admin.get_branch("main").commit.sha)


def test_git_clone_push_and_pull_request_from_the_branch(
    forge: Forge, sample: SampleSeed, github_as: Callable[..., Github], tmp_path: Path
) -> None:
    gh = github_as(sample.writer)
    repo = gh.get_repo(sample.repo)
    work = tmp_path / "work"
    git("clone", "-q", repo.clone_url, str(work))
    assert (work / "shopcart" / "cart.py").is_file()
    git("checkout", "-q", "-b", "fix-total", cwd=work)
    cart = work / "shopcart" / "cart.py"
    cart.write_text(cart.read_text().replace("range(1, len(items))", "range(len(items))"))
    (work / "NOTES.md").write_text("notes\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "Count every item", cwd=work)
    with pytest.raises(AssertionError):  # anonymous pushes are refused
        git("push", "-q", "origin", "fix-total", cwd=work)
    outsider_token = forge.token(sample.outsider)
    with pytest.raises(AssertionError):  # and so are pushes without write permission
        git("push", "-q", "origin", "fix-total", cwd=work, token=outsider_token)
    git("push", "-q", "origin", "fix-total", cwd=work, token=forge.token(sample.writer))
    head = git("rev-parse", "HEAD", cwd=work).strip()
    assert repo.get_branch("fix-total").commit.sha == head
    assert repo.get_git_ref("heads/fix-total").object.sha == head
    pull = repo.create_pull(title="Count every item", body="Closes #1", head="fix-total", base="main", draft=True)
    assert pull.draft and pull.head.sha == head and pull.mergeable
    files = {f.filename: f for f in pull.get_files()}
    assert set(files) == {"shopcart/cart.py", "NOTES.md"}
    assert files["NOTES.md"].status == "added" and "+notes" in files["NOTES.md"].patch
    assert files["shopcart/cart.py"].additions == 1 and files["shopcart/cart.py"].deletions == 1
    assert [c.sha for c in pull.get_commits()] == [head]
    with pytest.raises(GithubException) as duplicate:
        repo.create_pull(title="Again", body="", head="fix-total", base="main")
    assert duplicate.value.status == 422
    assert "already exists" in duplicate.value.data["errors"][0]["message"]
    assert [p.number for p in repo.get_pulls(head="octo-org:fix-total")] == [pull.number]
    assert list(repo.get_pulls(base="nope")) == []
    # A second push moves the PR's head, as on GitHub.
    (work / "NOTES.md").write_text("more notes\n")
    git("commit", "-qam", "More notes", cwd=work)
    git("push", "-q", "origin", "fix-total", cwd=work, token=forge.token(sample.writer))
    assert repo.get_pull(pull.number).commits == 2
    pull.edit(body="Closes #1\n\nNow with notes")
    admin = github_as(sample.admin).get_repo(sample.repo)
    admin_pull = admin.get_pull(pull.number)
    review = admin_pull.create_review(body="Looks good", event="APPROVE")
    assert [r.state for r in admin_pull.get_reviews()] == ["APPROVED"] and review.state == "APPROVED"
    sha = admin_pull.head.sha
    admin.get_commit(sha).create_status("success", context="ci/tests", description="3 passed")
    assert admin.get_commit(sha).get_combined_status().state == "success"
    admin.create_check_run("pytest", sha, status="completed", conclusion="success")
    assert [(c.name, c.conclusion) for c in admin.get_commit(sha).get_check_runs()] == [("pytest", "success")]
    admin_pull.edit(state="open")
    forge.as_user(sample.admin).merge(sample.repo, pull.number)
    merged = repo.get_pull(pull.number)
    assert merged.merged and merged.merged_by.login == sample.admin
    assert repo.get_issue(1).state == "closed"  # "Closes #1"
    git("pull", "-q", "origin", "main", cwd=work)
    git("checkout", "-q", "main", cwd=work)
    git("pull", "-q", "origin", "main", cwd=work)
    assert "range(len(items))" in cart.read_text()


def test_admin_endpoint_acts_as_any_user_and_reads_the_request_log(forge: Forge, sample: SampleSeed) -> None:
    response = requests.post(
        f"{forge.url}/_forge/as/{sample.admin}/repos/{sample.repo}/issues/1/labels",
        json={"labels": ["paid-build"]},
        timeout=10,
    )
    assert response.status_code == 200 and response.json()[0]["name"] == "paid-build"
    created = requests.post(
        f"{forge.url}/_forge/users",
        json={"login": "newbie", "permissions": {sample.repo: "write"}},
        timeout=10,
    ).json()
    me = requests.get(f"{forge.url}/user", headers={"Authorization": f"token {created['token']}"}, timeout=10)
    assert me.json()["login"] == "newbie"
    faults = requests.put(f"{forge.url}/_forge/faults", json={"latency_ms": 5}, timeout=10).json()
    assert faults["latency_ms"] == 5
    log = requests.get(f"{forge.url}/_forge/requests", timeout=10).json()
    assert any(entry["path"] == "/user" and entry["counted"] for entry in log)
    assert requests.put(f"{forge.url}/_forge/faults", json={"nonsense": 1}, timeout=10).status_code == 422


def test_state_survives_a_restart(tmp_path: Path) -> None:
    from paid_standins.forge import seed_sample

    with Forge(tmp_path / "f") as first:
        seed = seed_sample(first)
        first.as_user(seed.writer).comment(seed.repo, 1, "persist me")
        token = first.token(seed.writer)
    with Forge(tmp_path / "f") as second:
        from github import Auth

        gh = Github(base_url=second.url, auth=Auth.Token(token), retry=None)
        assert [c.body for c in gh.get_repo(seed.repo).get_issue(1).get_comments()] == ["persist me"]
        assert seed_sample(second).issue_number == 1


def test_concurrent_mixed_requests_lose_no_write(forge: Forge, sample: SampleSeed) -> None:
    """8 threads x 200 mixed requests: every comment and label lands, no 500."""
    statuses: list[int] = []
    lock = threading.Lock()
    token = forge.token(sample.writer)
    issue_numbers = [forge.as_user(sample.writer).create_issue(sample.repo, f"c{t}") for t in range(8)]

    def worker(t: int) -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"token {token}"
        base = f"{forge.url}/repos/{sample.repo}"
        mine = []
        for i in range(200):
            kind = i % 4
            if kind == 0:
                r = session.post(f"{base}/issues/{issue_numbers[t]}/comments", json={"body": f"{t}-{i}"}, timeout=30)
            elif kind == 1:
                r = session.post(f"{base}/issues/{issue_numbers[t]}/labels", json={"labels": [f"l{t}-{i}"]}, timeout=30)
            elif kind == 2:
                r = session.get(f"{base}/issues?state=all&per_page=20", timeout=30)
            else:
                r = session.post(f"{base}/issues", json={"title": f"t{t}-{i}"}, timeout=30)
            mine.append(r.status_code)
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(statuses) == 1600 and not [s for s in statuses if s >= 500]
    repo = forge.repo(sample.repo)
    for t, number in enumerate(issue_numbers):
        issue = forge.service.find_issue(repo, number)
        comments = forge.store.scalar("SELECT COUNT(*) FROM comments WHERE issue_id = ?", issue["id"])
        labels = forge.store.labels_of(issue["id"])
        assert comments == 50 and len(labels) == 50, (t, comments, len(labels))
    numbers = [r["number"] for r in forge.store.all("SELECT number FROM issues WHERE repo_id = ?", repo["id"])]
    assert len(numbers) == len(set(numbers)) == 1 + 8 + 8 * 50


def test_html_urls_open_a_readable_page(forge: Forge, sample: SampleSeed, github_as: Callable[..., Github]) -> None:
    sc = scenario.build(forge, sample)
    gh = github_as(sample.writer)
    pull = gh.get_repo(sample.repo).get_pull(sc.pull)
    page = requests.get(pull.html_url, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert "Count every item" in page.text and "shopcart/cart.py" in page.text and "range(len(items))" in page.text
    forge.as_user(sample.outsider).comment(sample.repo, 1, "<script>alert(1)</script>")
    issue_page = requests.get(gh.get_repo(sample.repo).get_issue(1).html_url, timeout=10).text
    assert "<script>alert(1)</script>" not in issue_page and "&lt;script&gt;" in issue_page
    assert requests.get(f"{forge.url}/octo-org/shopcart/pull/999", timeout=10).status_code == 404


def test_a_repository_is_also_addressed_by_its_id(forge: Forge, sample: SampleSeed) -> None:
    headers = {"Authorization": f"token {forge.token(sample.writer)}"}
    repo = requests.get(f"{forge.url}/repos/{sample.repo}", headers=headers, timeout=10).json()
    by_id = requests.get(f"{forge.url}/repositories/{repo['id']}/issues/1", headers=headers, timeout=10)
    assert by_id.status_code == 200 and by_id.json()["number"] == 1
    assert requests.get(f"{forge.url}/repositories/99999", headers=headers, timeout=10).status_code == 404
    root = requests.get(f"{forge.url}/", timeout=10).json()
    assert root["rate_limit_url"] == f"{forge.url}/rate_limit"
