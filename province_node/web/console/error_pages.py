"""The HTML error page of the console's paths (the API's paths keep the JSON error body): what
went wrong in plain Chinese, what to do, the error id of a 500; never a traceback."""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiohttp import web

from province_node.web.console.render import render_page
from schemas.errors import HttpError

_ERROR_ID = re.compile(r"error id ([0-9a-f]+)")
# The node's own messages for these codes are written for the console, in Chinese
# (access.py); others are the API's English messages and stay off the page.
_CONSOLE_CODES = frozenset({"signed_out", "read_only", "cross_site", "csrf_failed"})


@dataclass(frozen=True, slots=True)
class ErrorText:
    """An error as an operator reads it."""

    title: str
    sentences: tuple[str, ...]
    error_id: str | None = None
    sign_in: bool = False


def _wait(exc: HttpError) -> str:
    raw = exc.headers.get("Retry-After", "")
    return f"请 {raw} 秒后再试。" if raw.isdigit() else "请稍后再试。"


def error_text(exc: HttpError) -> ErrorText:
    """The words of an error page (pure): by code where the console wrote its own, else by
    status."""
    if exc.code in _CONSOLE_CODES:
        title = {
            "signed_out": "请先登录",
            "read_only": "只读账号不能办理此业务",
            "cross_site": "已拒绝来自其他网站的请求",
            "csrf_failed": "表单已失效，未执行任何操作",
        }[exc.code]
        return ErrorText(title, (exc.message,), sign_in=exc.code == "signed_out")
    status = exc.status
    if status == 401:
        return ErrorText("请先登录", ("请使用本节点的登记员或查询员令牌登录。",), sign_in=True)
    if status == 403:
        return ErrorText("没有权限", ("您的账号不能执行此操作。",))
    if status == 404:
        return ErrorText("找不到此页面", ("您访问的地址或执业证书编码不存在。请检查后重新查找。",))
    if status == 405:
        return ErrorText("不支持此操作", ("此地址不支持这种访问方式。",))
    if status == 413:
        return ErrorText("提交的内容过大", ("请减少提交的内容后重试。",))
    if status == 429:
        return ErrorText("请求过于频繁", (f"尝试次数过多或系统繁忙，{_wait(exc)}",))
    if status == 503:
        return ErrorText("系统暂时无法处理", (f"节点此刻无法写入登记库，{_wait(exc)}",))
    if status >= 500:
        match = _ERROR_ID.search(exc.message)
        return ErrorText(
            "系统出错了",
            (
                "处理您的请求时出现意外错误，已记录此问题。",
                "请稍后再试；如需反馈，请提供下面的错误编号。",
            ),
            match.group(1) if match else None,
        )
    return ErrorText("无法完成请求", ("请求内容有误，请返回上一页检查后重试。",))


def render_error_page(request: web.Request, exc: HttpError) -> web.Response:
    """The error page of exc, with its status and headers (Retry-After kept)."""
    return render_page(
        request,
        "error.html",
        {"error": error_text(exc), "status": exc.status},
        status=exc.status,
        headers=exc.headers,
    )
