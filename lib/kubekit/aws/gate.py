"""The safety gate: nothing is created in a real account unless its id is confirmed explicitly.

``check_account(target, confirm_account)`` asks STS who the caller is. For the
sandbox nothing is required; for real AWS the caller's account id must equal
``confirm_account``, otherwise :class:`SafetyGateRefused` says which account the
credentials belong to and how to confirm it. Account ids never go into outputs
beyond the last four digits.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import BotoCoreError, ClientError

from ..errors import AwsError, SafetyGateRefused
from .target import Target, resolve


@dataclass(frozen=True)
class Caller:
    account: str
    arn: str
    sandbox: bool

    @property
    def masked_account(self) -> str:
        return "********" + self.account[-4:] if len(self.account) > 4 else self.account

    def __str__(self) -> str:
        where = "sandbox" if self.sandbox else "real AWS"
        user = self.arn.split(":")[-1]
        return f"{user} in account {self.masked_account} ({where})"


def whoami(target: "str | Target | None" = None, region: str = "us-east-1") -> Caller:
    t = resolve(target)
    try:
        ident = t.client("sts", region).get_caller_identity()
    except (ClientError, BotoCoreError) as exc:
        raise AwsError("sts:GetCallerIdentity (who am I?)", exc) from exc
    return Caller(ident["Account"], ident["Arn"], t.is_sandbox)


def check_account(target: "str | Target | None", confirm_account: str | None, region: str = "us-east-1") -> Caller:
    caller = whoami(target, region)
    if caller.sandbox:
        return caller
    if not confirm_account:
        raise SafetyGateRefused(
            f"refusing to create or delete anything in real AWS: these credentials belong to account "
            f"{caller.masked_account}. Pass confirm_account='<your 12-digit account id>' to confirm that this is "
            f"the account you mean.")
    if str(confirm_account).strip() != caller.account:
        raise SafetyGateRefused(
            f"refusing: confirm_account does not match the caller's account (credentials belong to "
            f"{caller.masked_account}). Check the AWS profile or the confirm_account value.")
    return caller
