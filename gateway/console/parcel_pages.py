"""The console's parcel pages: search, a parcel's page, and its actions (force-expire, mark
picked up, reassign, remote open), plus the maintenance open of an empty compartment from the
locker page (its own form there, listing only the empty compartments).

Every action goes through the admin services (audited there: operator, what, reason) and
takes two posts: the first shows what is about to happen and asks to confirm (nothing
changes), the second, with `confirm=yes`, acts and redirects back with a one-use note
(post/redirect/get). A refusal (409, 404, 422) is an error page saying why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.console.actions import OPEN_OUTCOMES
from gateway.console.actions import _reason as reason_of
from gateway.console.web import ME, PREFIX, back_to, confirm_page, deps_of, page, render
from gateway.domain.door import PURPOSE_FOR_STATE
from gateway.domain.enums import CompartmentState, ParcelAction, ParcelState
from gateway.domain.operators import Role
from gateway.domain.parcel import Parcel, allowed_actions
from gateway.errors import ValidationFailed
from gateway.http.operator_auth import admin, read_form
from gateway.service.admin_actions import MOVABLE, Reply, Why, no_answer
from gateway.service.admin_views import ParcelFilter

# One page of results; an operator narrows the search rather than paging through thousands.
SEARCH_LIMIT = 100
MAX_QUERY = 128


@dataclass(frozen=True, slots=True)
class ParcelActionKind:
    """One button of the parcel page: its words, and what confirming it says."""

    value: str
    label: str
    warning: str


EXPIRE = ParcelActionKind(
    "expire",
    "Force-expire",
    "The pickup window ends now: the recipient's code stops working and the parcel goes on "
    "the collection manifest for a courier to take back.",
)
PICKED_UP = ParcelActionKind(
    "picked_up",
    "Mark picked up",
    "Records a pickup the locker did not report (the recipient was helped on site). The "
    "parcel's compartment is freed; this cannot be undone.",
)
REASSIGN = ParcelActionKind(
    "reassign",
    "Reassign",
    "The reservation moves to the chosen compartment of the same locker; the old one is "
    "freed. Codes already issued for the parcel open the new compartment.",
)
OPEN = ParcelActionKind(
    "open",
    "Open the door remotely",
    "The locker opens the parcel's door now. Only do this with someone at the locker.",
)
ACTIONS = {a.value: a for a in (EXPIRE, PICKED_UP, REASSIGN, OPEN)}
INSPECT_WARNING = (
    "The locker opens this empty compartment's door now (inspection). Only do this with "
    "someone at the locker; the door closes as usual."
)


def offered(parcel: Parcel) -> list[ParcelActionKind]:
    """The actions the parcel's state allows (the services check again when acting)."""
    allowed = allowed_actions(parcel.state)
    found = []
    if ParcelAction.EXPIRE in allowed:
        found.append(EXPIRE)
    if ParcelAction.PICK_UP in allowed:
        found.append(PICKED_UP)
    if parcel.state in MOVABLE and parcel.compartment_code is not None:
        found.append(REASSIGN)
    if parcel.state in PURPOSE_FOR_STATE and parcel.compartment_code is not None:
        found.append(OPEN)
    return found


def _query(request: web.Request) -> tuple[ParcelFilter, dict[str, str]]:
    """The search form's fields as a filter, and as typed (to fill the form again)."""
    raw = {
        name: request.query.get(name, "").strip() for name in ("q", "state", "locker", "carrier")
    }
    if any(len(value) > MAX_QUERY for value in raw.values()):
        raise ValidationFailed(f"each search field takes at most {MAX_QUERY} characters")
    state = None
    if raw["state"]:
        try:
            state = ParcelState(raw["state"])
        except ValueError:
            raise ValidationFailed(f"no parcel state {raw['state']!r}") from None
    where = ParcelFilter(
        state=state,
        locker_id=raw["locker"] or None,
        carrier_id=raw["carrier"] or None,
        identifier=raw["q"] or None,
    )
    return where, raw


@page()
async def search(request: web.Request) -> web.StreamResponse:
    deps, _ = deps_of(request)
    where, typed = _query(request)
    asked = any(typed.values())
    found: list[Parcel] = []
    more = False
    if asked:
        found, cursor = await deps.views.parcels(where, limit=SEARCH_LIMIT)
        more = cursor is not None
    lockers = sorted(s.locker.id for s in await deps.views.lockers())
    return render(
        request,
        "parcel_search.html",
        principal=request[ME],
        typed=typed,
        asked=asked,
        found=found,
        more=more,
        limit=SEARCH_LIMIT,
        states=[s.value for s in ParcelState],
        lockers=lockers,
        title="Find a parcel",
    )


@page()
async def parcel_page(request: web.Request) -> web.StreamResponse:
    deps, con = deps_of(request)
    parcel, events = await deps.views.parcel(request.match_info["uid"])
    extras = await con.parcels.extras(parcel.uid, parcel.carrier_id)
    free: list[tuple[str, str]] = []  # (code, size class) of the locker's free compartments
    actions = offered(parcel)
    if REASSIGN in actions:
        _, rows = await deps.views.locker(parcel.locker_id)
        free = [
            (r.compartment.code, r.compartment.size_class.value)
            for r in rows
            if r.compartment.state is CompartmentState.AVAILABLE
        ]
    now = deps.clock()
    return render(
        request,
        "parcel.html",
        principal=request[ME],
        parcel=parcel,
        events=events,
        extras=extras,
        actions=actions,
        free=free,
        overdue=parcel.pickup_until is not None
        and parcel.pickup_until < now
        and parcel.state in (ParcelState.READY_FOR_PICKUP, ParcelState.EXPIRED),
        requirements=parcel.need.requirements.to_json(),
        title=f"Parcel {parcel.parcel_id}",
    )


@page(Role.OPERATOR)
async def parcel_action(request: web.Request) -> web.StreamResponse:
    deps = admin(request)
    uid = request.match_info["uid"]
    form = await read_form(request)
    kind = ACTIONS.get(str(form.get("action", "")))
    if kind is None:
        raise ValidationFailed(f"choose an action: one of {', '.join(ACTIONS)}")
    reason = reason_of(form.get("reason"))
    target = _compartment(form) if kind is REASSIGN else ""
    parcel, _ = await deps.views.parcel(uid)
    back = f"{PREFIX}/parcels/{uid}"
    if form.get("confirm") != "yes":
        what = f"{kind.label}: parcel {parcel.parcel_id} ({parcel.carrier_id})"
        if target:
            what += f", to compartment {target} of {parcel.locker_id}"
        fields = {"action": kind.value, "reason": reason, "compartment": target}
        return confirm_page(request, what, kind.warning, reason, fields, back, kind.label)
    why = Why(request[ME].actor, reason)
    if kind is EXPIRE:
        after = (await deps.actions.force_expire(uid, why, Reply(no_answer))).result
        note = f"Parcel {parcel.parcel_id} expired: {_state(after)}."
    elif kind is PICKED_UP:
        after = (await deps.actions.mark_picked_up(uid, why, Reply(no_answer))).result
        note = f"Parcel {parcel.parcel_id} marked picked up: {_state(after)}."
    elif kind is REASSIGN:
        await deps.actions.reassign(uid, parcel.locker_id, target, why, Reply(no_answer))
        note = f"Parcel {parcel.parcel_id} now reserved in compartment {target}."
    else:
        result = (await deps.actions.remote_open(uid, why, Reply(no_answer))).result
        assert result is not None  # no key, so never a replay
        words = OPEN_OUTCOMES.get(result.outcome, str(result.outcome))
        note = f"Door {result.compartment_code} of parcel {parcel.parcel_id}: {words}."
    raise back_to(request, back, note)


@page(Role.OPERATOR)
async def maintenance_open(request: web.Request) -> web.StreamResponse:
    """The locker page's "open an empty door for inspection" form."""
    locker_id = request.match_info["locker_id"]
    form = await read_form(request)
    code = str(form.get("code", "")).strip()
    if not code or len(code) > 32:
        raise ValidationFailed("choose an empty compartment")
    reason = reason_of(form.get("reason"))
    back = f"{PREFIX}/lockers/{locker_id}"
    if form.get("confirm") != "yes":
        what = f"Open the empty compartment {code} of locker {locker_id} for inspection"
        fields = {"code": code, "reason": reason}
        return confirm_page(request, what, INSPECT_WARNING, reason, fields, back, "Open the door")
    why = Why(request[ME].actor, reason)
    outcome = await admin(request).actions.maintenance_open(locker_id, code, why)
    words = OPEN_OUTCOMES.get(outcome, str(outcome))
    raise back_to(request, back, f"Door {code} (empty, inspection): {words}.")


def _compartment(form: Mapping[str, object]) -> str:
    code = str(form.get("compartment", "")).strip()
    if not code or len(code) > 32:
        raise ValidationFailed("choose the compartment to move the reservation to")
    return code


def _state(parcel: Parcel | None) -> str:
    return "—" if parcel is None else parcel.state.value.replace("_", " ")


def add_routes(app: web.Application) -> None:
    r = app.router
    # The search before the parcel: `search` is never a parcel's uid (uuid4).
    r.add_get(PREFIX + "/parcels/search", search)
    r.add_get(PREFIX + "/parcels/{uid}", parcel_page)
    r.add_post(PREFIX + "/parcels/{uid}/actions", parcel_action)
    r.add_post(PREFIX + "/lockers/{locker_id}/inspect", maintenance_open)
