"""The console's forms (POST): sign in and out, compartment actions, dead-letter replay.

Each goes through the admin services (audited there, with the operator as actor and the
reason typed) and answers with a redirect back to its page and a one-use note
(post/redirect/get), so a reload never repeats an action.
"""

from __future__ import annotations

from aiohttp import web

from gateway.auth.operator_sessions import LoginLocked
from gateway.console.web import ME, PREFIX, back_to, check_origin, page, render, safe_next
from gateway.domain.door import OpenOutcome
from gateway.domain.operators import Role
from gateway.errors import AuthenticationFailed, NotFound, OpenLockerError, ValidationFailed
from gateway.http.operator_auth import (
    admin,
    clear_session_cookie,
    client_address,
    read_form,
    set_session_cookie,
)
from gateway.service.admin_actions import Reply, Why, no_answer
from gateway.service.availability import AtLocker

LOCKER_ACTIONS = ("out_of_service", "in_service", "open")
OPEN_OUTCOMES = {
    OpenOutcome.UNLOCKED: "the locker opened it",
    OpenOutcome.UNLOCK_FAILED: "the locker could not unlock it",
    OpenOutcome.DOOR_JAMMED: "the locker reports it jammed",
    OpenOutcome.ALREADY_OPEN: "it was open already",
}
MIN_REASON, MAX_REASON = 3, 500


async def login(request: web.Request) -> web.StreamResponse:
    """The sign-in form. No CSRF token yet (there is no session): Origin is checked instead,
    and the session cookie is SameSite=Strict."""
    try:
        check_origin(request)
    except OpenLockerError as err:
        return _login_again(request, "", err.description, 403)
    try:
        form = await read_form(request)
    except OpenLockerError as err:
        return _login_again(request, "", err.description, 400)
    operator_id = str(form.get("operator_id", "")).strip()[:64]
    password = str(form.get("password", ""))[:1024]
    target = str(form.get("next", PREFIX))
    deps = admin(request)
    try:
        if not operator_id or not password:
            raise AuthenticationFailed("enter your operator id and password")
        principal = await deps.auth.login(operator_id, password, client_address(request))
    except LoginLocked as err:
        return _login_again(
            request, operator_id, f"Too many failed sign-ins: {err.description}.", 429
        )
    except AuthenticationFailed as err:
        return _login_again(request, operator_id, f"Not signed in: {err.description}.", 401)
    response = web.HTTPSeeOther(target if safe_next(target) else PREFIX)
    set_session_cookie(response, request, principal)
    raise response


def _login_again(request: web.Request, operator_id: str, error: str, status: int) -> web.Response:
    target = request.query.get("next", PREFIX)
    return render(
        request,
        "login.html",
        principal=None,
        http_status=status,
        next=target if safe_next(target) else PREFIX,
        error=error,
        operator_id=operator_id,
    )


@page(Role.VIEWER, while_password_due=True)
async def logout(request: web.Request) -> web.StreamResponse:
    await admin(request).auth.logout(request[ME])
    response = web.HTTPSeeOther(PREFIX + "/login")
    clear_session_cookie(response, request)
    raise response


@page(Role.OPERATOR)
async def locker_action(request: web.Request) -> web.StreamResponse:
    deps = admin(request)
    locker_id = request.match_info["locker_id"]
    form = await read_form(request)
    code = str(form.get("code", "")).strip()
    action = str(form.get("action", ""))
    why = Why(request[ME].actor, _reason(form.get("reason")))
    if action not in LOCKER_ACTIONS:
        raise ValidationFailed(f"choose an action: one of {', '.join(LOCKER_ACTIONS)}")
    if not code:
        raise ValidationFailed("choose a compartment")
    back = f"{PREFIX}/lockers/{locker_id}"
    if action == "open":
        _, rows = await deps.views.locker(locker_id)
        row = next((r for r in rows if r.compartment.code == code), None)
        if row is None:
            raise NotFound(f"no compartment {code!r} at locker {locker_id!r}")
        if row.parcel is None:
            raise ValidationFailed(
                f"compartment {code} holds no parcel: a remote open is for a parcel's door"
            )
        answered = await deps.actions.remote_open(row.parcel.uid, why, Reply(no_answer))
        result = answered.result
        assert result is not None  # no key, so never a replay
        words = OPEN_OUTCOMES.get(result.outcome, str(result.outcome))
        raise back_to(request, back, f"Door {code}: {words}.")
    in_service = action == "in_service"
    changed = await deps.actions.set_in_service(locker_id, code, in_service, why, Reply(no_answer))
    told = changed.answer.get("atLocker")
    raise back_to(request, back, service_note(code, in_service, told))


def service_note(code: str, in_service: bool, told: object) -> str:
    """The note after out of service / back in service: what the gateway did, then what the
    locker made of it (the admin answer's `atLocker`), since until the locker has it an
    offline grant it checks alone may still open a compartment taken out of service."""
    words = "back in service" if in_service else "out of service"
    note = f"Compartment {code} is {words}."
    if told == AtLocker.CONFIRMED:
        return note + " The locker confirmed it."
    if told == AtLocker.PENDING:
        return (
            note + " The locker has not confirmed it yet: tried again in the background, "
            "and at the locker's next start."
        )
    if told == AtLocker.UNSUPPORTED:
        if in_service:
            return note + " The locker has no such command: the gateway alone decides."
        # Out of service at the gateway only: grants the locker checks alone still open it.
        return (
            note + " The locker has no such command: only the gateway refuses it (an offline "
            "grant may still open it)."
        )
    return note  # no availability sync wired (tests, tools): nothing was sent


@page(Role.OPERATOR)
async def replay(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    delivery_id = int(request.match_info["delivery_id"])
    reason = _reason(form.get("reason"))
    await admin(request).deliveries.replay_audited(
        delivery_id, actor=request[ME].actor, details={"reason": reason}
    )
    raise back_to(request, PREFIX + "/deliveries", f"Delivery {delivery_id} queued again.")


@page(Role.OPERATOR)
async def clear_keypad(request: web.Request) -> web.StreamResponse:
    """End a keypad lockout early (the person at the locker proved who they are)."""
    form = await read_form(request)
    locker_id = request.match_info["locker_id"]
    await admin(request).keypads.clear(
        locker_id, actor=request[ME].actor, reason=_reason(form.get("reason"))
    )
    raise back_to(request, PREFIX, f"The keypad of {locker_id} takes codes again.")


def _reason(raw: object) -> str:
    reason = str(raw or "").strip()
    if not MIN_REASON <= len(reason) <= MAX_REASON:
        raise ValidationFailed(
            f"say why in {MIN_REASON} to {MAX_REASON} characters: the reason goes into the "
            "audit trail"
        )
    return reason


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_post(PREFIX + "/login", login)
    r.add_post(PREFIX + "/logout", logout)
    r.add_post(PREFIX + "/lockers/{locker_id}/actions", locker_action)
    r.add_post(PREFIX + "/deliveries/{delivery_id:[1-9][0-9]{0,17}}/replay", replay)
    r.add_post(PREFIX + "/keypads/{locker_id}/clear", clear_keypad)
