"""Policy files: model, loader, evaluation, explanations and export to cluster admission."""

from supplychain.policy.loader import load_policy, parse_policy
from supplychain.policy.model import Policy

__all__ = ["Policy", "load_policy", "parse_policy"]
