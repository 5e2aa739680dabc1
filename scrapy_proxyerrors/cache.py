"""An ``HTTPCACHE_POLICY`` that never keeps a provider's error.

With ``HTTPCACHE_ENABLED``, Scrapy's cache stores every reply the policy
allows, provider errors included: retries are then answered from the cache
(the provider is never asked again) and a cached ``407`` replays in every
later crawl after the provider is healthy again. :class:`ProviderErrorsCachePolicy`
wraps the policy the project uses (``PROXYERRORS_HTTPCACHE_INNER_POLICY``,
Scrapy's ``DummyPolicy`` by default) and asks the classifier first: a reply
that is a provider error is never stored, and one stored earlier (by a crawl
without this policy) is neither fresh nor valid, so it is fetched again.

The add-on installs it; by hand::

    HTTPCACHE_POLICY = "scrapy_proxyerrors.cache.ProviderErrorsCachePolicy"
    PROXYERRORS_HTTPCACHE_INNER_POLICY = "scrapy.extensions.httpcache.RFC2616Policy"
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.utils.httpobj import urlparse_cached

from ._classifier import classify
from ._config import http_cache_inner_policy, load_profiles
from ._vocabulary import Transport

if TYPE_CHECKING:
    from scrapy.http import Request, Response
    from scrapy.settings import BaseSettings

    from ._profile import Profile

#: The meta key and setting that name a request's provider (as the middleware reads them).
_META_PROVIDER = "proxyerrors_provider"


class ProviderErrorsCachePolicy:
    """Scrapy HTTP cache policy: the inner policy's decisions, except that a
    provider error is never stored, never fresh and never valid.

    Raises :class:`~scrapy_proxyerrors.BadSettingError` when
    ``PROXYERRORS_HTTPCACHE_INNER_POLICY`` (or ``PROXYERRORS_PROVIDERS``) is bad.
    """

    #: Marks this policy, so that it is never configured as its own inner policy.
    wraps_a_cache_policy = True

    def __init__(self, settings: BaseSettings) -> None:
        from .exceptions import BadSettingError

        try:
            inner_cls = http_cache_inner_policy(settings)
            self.profiles: dict[str, Profile] = load_profiles(settings)
        except Exception as exc:  # NotConfigured from _config: must not disable the cache
            raise BadSettingError(str(exc)) from None
        self.inner: Any = inner_cls(settings)
        self.enabled = settings.getbool("PROXYERRORS_ENABLED", True)
        provider = settings.get("PROXYERRORS_PROVIDER")
        known = isinstance(provider, str) and provider in self.profiles
        self.provider = provider if known else None

    # ------------------------------------------------------------ the policy

    def should_cache_request(self, request: Request) -> bool:
        return bool(self.inner.should_cache_request(request))

    def should_cache_response(self, response: Response, request: Request) -> bool:
        if self.is_provider_error(response, request):
            return False
        return bool(self.inner.should_cache_response(response, request))

    def is_cached_response_fresh(self, cachedresponse: Response, request: Request) -> bool:
        if self.is_provider_error(cachedresponse, request):
            return False
        return bool(self.inner.is_cached_response_fresh(cachedresponse, request))

    def is_cached_response_valid(
        self, cachedresponse: Response, response: Response, request: Request
    ) -> bool:
        if self.is_provider_error(cachedresponse, request):
            return False
        return bool(self.inner.is_cached_response_valid(cachedresponse, response, request))

    # ------------------------------------------------------------------ helpers

    def is_provider_error(self, response: Response, request: Request) -> bool:
        """Whether *response* to *request* classifies as a provider's error."""
        if not self.enabled or request.meta.get("dont_proxyerrors"):
            return False
        name = request.meta.get(_META_PROVIDER) or self.provider
        profile = self.profiles.get(name) if isinstance(name, str) else None
        transport = self._transport(request, profile)
        if transport is Transport.TARGET:
            return False
        if response.status < 400 and not getattr(profile, "status_headers", ()):
            return False
        error = classify(
            response.status,
            response.headers,
            response.body,
            transport=transport,
            request_url=request.url,
            proxy_url=request.meta.get("proxy"),
            provider=profile,
            profiles=self.profiles,
        )
        return error is not None

    def _transport(self, request: Request, profile: Profile | None) -> Transport:
        """Where the reply came from, as the middleware decides it."""
        if request.meta.get("proxy"):
            # Through a tunnel (https) the reply is the target's own.
            scheme = urlparse_cached(request).scheme
            return Transport.PLAIN if scheme == "http" else Transport.TARGET
        if profile is None:
            host = urlparse_cached(request).hostname or ""
            profile = next((p for p in self.profiles.values() if p.matches_api_host(host)), None)
        if profile is not None and profile.kind != "proxy":
            return Transport.API
        return Transport.TARGET
