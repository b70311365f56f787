from .issues import agent_run, github_issue, pull_request, triage
from .partitions import paid_issues

__all__ = ["agent_run", "github_issue", "paid_issues", "pull_request", "triage"]
