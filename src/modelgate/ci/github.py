"""The few GitHub REST calls the comment job makes, over stdlib urllib and nothing else.

Requests go to the API base only: pagination follows `Link: rel="next"` (GitHub's documented
way; "Using pagination in the REST API") only while it stays on that base, and redirects are
refused, so the token is never sent anywhere else.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode, urlsplit

API_VERSION = "2022-11-28"
PER_PAGE = 100  # the documented maximum
MAX_PAGES = 50  # 5,000 items: far beyond any PR here, and an end to a cycle of next links
_NEXT = re.compile(r'<([^<>]+)>\s*;\s*rel="next"')


class GitHubError(RuntimeError):
    """The API refused, failed or answered something unexpected."""


class Opener(Protocol):
    def open(self, fullurl: urllib.request.Request, *, timeout: float) -> Any: ...


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # urllib then raises HTTPError for the 3xx


def default_opener() -> Opener:
    return urllib.request.build_opener(_NoRedirect)


class Client:
    def __init__(self, api_url: str, token: str, opener: Opener, timeout: float = 30) -> None:
        self.api_url = api_url.rstrip("/")
        self._token, self._opener, self._timeout = token, opener, timeout

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> Client:
        """The client a workflow step gets: `GITHUB_TOKEN` (required) on `GITHUB_API_URL`."""
        token = env.get("GITHUB_TOKEN") or ""
        if not token:
            raise ValueError("GITHUB_TOKEN is not set")
        return cls(env.get("GITHUB_API_URL", "https://api.github.com"), token, default_opener())

    def paginate(self, path: str, query: Mapping[str, str] | None = None) -> list[Any]:
        """Every item of a list endpoint, `per_page=100`, following the next links."""
        url: str | None = self._url(path, {**(query or {}), "per_page": str(PER_PAGE)})
        items: list[Any] = []
        for _ in range(MAX_PAGES):
            if url is None:
                return items
            page, headers = self._request("GET", url)
            if not isinstance(page, list):
                raise GitHubError(f"GET {path}: expected a list, got {type(page).__name__}")
            items += page
            url = self._next(headers.get("Link", ""))
        raise GitHubError(f"GET {path}: more than {MAX_PAGES} pages")

    def send(self, method: str, path: str, payload: Mapping[str, Any]) -> Any:
        return self._request(method, self._url(path), json.dumps(payload).encode())[0]

    def _url(self, path: str, query: Mapping[str, str] | None = None) -> str:
        return self.api_url + path + (f"?{urlencode(query)}" if query else "")

    def _next(self, link: str) -> str | None:
        match = _NEXT.search(link)
        if match is None:
            return None
        url, base = urlsplit(match.group(1)), urlsplit(self.api_url)
        if (url.scheme, url.netloc) != (base.scheme, base.netloc) or not url.path.startswith(
            base.path
        ):
            raise GitHubError(f"refusing a next link off the API: {match.group(1)}")
        return match.group(1)

    def _request(self, method: str, url: str, data: bytes | None = None) -> tuple[Any, Any]:
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json")
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("X-GitHub-Api-Version", API_VERSION)
        request.add_header("User-Agent", "modelgate-pr-comment")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                body, headers = response.read(), response.headers
        except urllib.error.HTTPError as exc:
            detail = exc.read(500).decode("utf-8", "replace")
            raise GitHubError(f"{method} {url}: HTTP {exc.code} {detail}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise GitHubError(f"{method} {url}: {exc}") from exc
        try:
            return (json.loads(body) if body else None), headers
        except ValueError as exc:
            raise GitHubError(f"{method} {url}: the answer is not JSON") from exc
