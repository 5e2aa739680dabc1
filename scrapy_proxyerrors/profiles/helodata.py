"""helodata ISP proxies: one static IP per proxy, status + ``X-Helodata-Error-Code``."""

from __future__ import annotations

import math

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.helodata.com/products/overview-2/error-definitions"

# An IP that failed with 502/522/524/429 is likely to fail again: the doc asks
# for the next try on another IP of the batch, so those codes rotate.
HELODATA = Profile(
    name="helodata",
    title="helodata ISP",
    kind="proxy",
    code_headers=("X-Helodata-Error-Code",),
    signature_headers=("X-Helodata-Error-Code",),
    proxy_hosts=("*.helodata.com",),
    docs_url=_DOCS,
    # "The envelope is ... HTTP status + X-Helodata-Error-Code": every error
    # of its own is tagged; target replies pass through unchanged.
    tagged=True,
    rules=(
        Rule(401, "unknown-subuser", C.AUTH, A.STOP, S.ACCOUNT,
             "The sub-user does not exist.", "Check the sub-user name in the dashboard.",
             docs=_DOCS),
        Rule(403, "kyc-required", C.ACCOUNT, A.STOP, S.ACCOUNT,
             "The account has not completed KYC.", "Complete KYC in the dashboard.",
             docs=_DOCS),
        Rule(403, "batch-expired", C.ACCOUNT, A.STOP, S.ACCOUNT,
             "The batch's billing period ended.", "Renew the batch (IP management).",
             docs=_DOCS),
        Rule(403, "batch-grace-period", C.WARNING, A.PASS, S.ACCOUNT,
             "The batch is in its 7-day grace period: it works, but will expire.",
             "Renew the batch soon.", docs=_DOCS),
        # A released IP will never work again: rest it for good.
        Rule(403, "ip-released", C.NODE, A.ROTATE, S.ROUTE,
             "This IP was released back to the pool.",
             "Remove the IP from PROXYERRORS_PROXIES.", docs=_DOCS, cooldown=math.inf),
        Rule(403, "restricted-category-*", C.TARGET, A.DROP, S.REQUEST,
             "The target is on helodata's restricted list.",
             "Do not crawl this target through helodata.", docs=_DOCS),
        Rule(403, "account-suspended", C.ACCOUNT, A.STOP, S.ACCOUNT,
             "The account is suspended.", "Contact helodata support.", docs=_DOCS),
        Rule(407, "auth-failed", C.AUTH, A.STOP, S.ACCOUNT,
             "Wrong proxy password.", "Verify the password; rotate it if it leaked.",
             docs=_DOCS),
        Rule(407, "not-whitelisted", C.AUTH, A.STOP, S.ACCOUNT,
             "This machine's IP is not in the batch's whitelist.",
             "Add the source IP in the dashboard.", docs=_DOCS),
        Rule(429, "concurrent-limit", C.CONCURRENCY, A.ROTATE, S.ROUTE,
             "Too many concurrent connections to this IP.",
             "Spread the load over more IPs; lower CONCURRENT_REQUESTS_PER_DOMAIN.",
             docs=_DOCS),
        Rule(429, "rps-limit", C.RATE_LIMIT, A.ROTATE, S.ROUTE,
             "Too many requests per second to this IP.",
             "Spread the load over more IPs; add DOWNLOAD_DELAY jitter.", docs=_DOCS),
        Rule(502, "upstream-tls-error", C.UPSTREAM, A.ROTATE, S.ROUTE,
             "The TLS handshake with the target failed from this IP.",
             "Retry on another IP; check the target's TLS setup.", docs=_DOCS),
        Rule(522, "upstream-timeout", C.UPSTREAM, A.ROTATE, S.ROUTE,
             "The target is unreachable from this IP.",
             "Retry on a different IP of the batch.", docs=_DOCS),
        Rule(524, "target-timeout", C.TIMEOUT, A.ROTATE, S.ROUTE,
             "The target did not respond in time.",
             "Retry on another IP or raise DOWNLOAD_TIMEOUT.", docs=_DOCS),
        # Status rules: the doc's failover list (502/522/524/429) and auth.
        Rule(407, None, C.AUTH, A.STOP, S.ACCOUNT,
             "helodata refused the proxy credentials.", "Check the password.", docs=_DOCS),
        Rule(429, None, C.RATE_LIMIT, A.ROTATE, S.ROUTE,
             "This IP is over a limit.", "Spread the load over more IPs.", docs=_DOCS),
        Rule(502, None, C.UPSTREAM, A.ROTATE, S.ROUTE,
             "This IP could not reach the target.", "Retry on another IP.", docs=_DOCS),
        Rule(522, None, C.UPSTREAM, A.ROTATE, S.ROUTE,
             "The target is unreachable from this IP.", "Retry on another IP.", docs=_DOCS),
        Rule(524, None, C.TIMEOUT, A.ROTATE, S.ROUTE,
             "The target timed out from this IP.", "Retry on another IP.", docs=_DOCS),
    ),
)
