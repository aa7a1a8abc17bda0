"""Client user agents the storage API refuses (storage-api §15.3).

Firefox for iOS before version 20 crashes on answers this server gives;
production answers them 503 (body 0) instead, and so do we unless the
setting `reject_old_ios_clients` is off. The pattern is the one Mozilla's
server uses, e.g. `Firefox-iOS-Sync/18.0b1 (iPhone; iPhone OS 13.2.2) (Fennec)`.
"""

from __future__ import annotations

import re

_IOS_SYNC = re.compile(
    r"Firefox-iOS-Sync/(?P<major>[0-9]{1,9})\.[.0-9]+"  # <major>.<minor...>
    r"b.*"  # b<build>
    r"\s\(.+;\siPhone\sOS\s.+\)"  # (<device>; iPhone OS <version>)
    r"\s\(.+\)"  # (<display name>)
)
OLDEST_ACCEPTED_IOS = 20
# The pattern's `.+` groups backtrack polynomially (about n**4): a crafted
# 7.7 KB agent held the server for a minute (issue 10). Real agents of these
# clients are under 100 characters; longer ones are not theirs.
MAX_MATCHED_LENGTH = 256


def is_rejected_user_agent(user_agent: str | None) -> bool:
    if not user_agent or not user_agent.startswith("Firefox-iOS-Sync/"):
        return False  # the common case costs one prefix test
    if len(user_agent) > MAX_MATCHED_LENGTH:
        return False
    match = _IOS_SYNC.fullmatch(user_agent)
    return match is not None and int(match["major"]) < OLDEST_ACCEPTED_IOS
