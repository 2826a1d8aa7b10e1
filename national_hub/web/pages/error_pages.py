"""The HTML error page of the site's paths (the API's paths keep the JSON error body): what
went wrong in plain Chinese, how long to wait, the error id of a 500; never a traceback."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from national_hub.web.pages.render import render_page
from schemas.errors import HttpError

_ERROR_ID = re.compile(r"error id ([0-9a-f]+)")


@dataclass(frozen=True, slots=True)
class ErrorText:
    """An error as a person reads it."""

    title: str
    sentences: tuple[str, ...]
    error_id: str | None


def _retry_after(exc: HttpError) -> int | None:
    raw = exc.headers.get("Retry-After")
    try:
        return max(1, int(raw)) if raw is not None else None
    except ValueError:
        return None


def error_text(exc: HttpError) -> ErrorText:
    """The words of an error page (pure): by status, with the wait and the error id."""
    wait = _retry_after(exc)
    status = exc.status
    if status == 429:
        seconds = wait or 1
        return ErrorText(
            "请求过于频繁",
            (
                f"请求过于频繁，请 {seconds} 秒后再试。",
                "为保证所有人都能查询，每个网络地址在短时间内的查询次数有上限；无需验证码，稍等即可。",
            ),
            None,
        )
    if status == 503:
        later = f"请 {wait} 秒后再试。" if wait else "请稍后再试。"
        return ErrorText(
            "查询人数较多，请稍后再试",
            (f"全国平台此刻的查询请求较多，暂时无法处理您的请求，{later}",),
            None,
        )
    if status == 404:
        return ErrorText(
            "找不到此页面",
            ("您访问的地址不存在。请检查地址，或回到首页重新查询。",),
            None,
        )
    if status == 400:
        return ErrorText(
            "请求内容有误",
            ("您提交的内容无法识别。请回到查询页检查后重新提交。",),
            None,
        )
    if status == 405:
        return ErrorText("不支持此操作", ("此地址不支持这种访问方式。请回到首页重新查询。",), None)
    if status == 413:
        return ErrorText("提交的内容过大", ("请减少提交的内容后重试。",), None)
    if status >= 500:
        match = _ERROR_ID.search(exc.message)
        return ErrorText(
            "系统出错了",
            (
                "全国平台处理您的请求时出现意外错误，我们已记录此问题。",
                "请稍后再试；如需反馈，请提供下面的错误编号。",
            ),
            match.group(1) if match else None,
        )
    return ErrorText("无法完成请求", ("请回到首页重新查询。",), None)


def render_error_page(request: web.Request, exc: HttpError) -> web.Response:
    """The error page of exc, with its status and headers (Retry-After kept)."""
    response = render_page(
        request,
        "error.html",
        {"error": error_text(exc), "status": exc.status},
        status=exc.status,
        headers=exc.headers,
    )
    return response
