"""The console's pages (GET): overview, locker, due parcels, manifest, reports, deliveries,
audit trail, and the sign-in page."""

from __future__ import annotations

from aiohttp import web

from gateway.console import views
from gateway.console.charts import bar_chart
from gateway.console.web import ME, PREFIX, deps_of, page, render, safe_next
from gateway.domain.webhooks import DeliveryState
from gateway.errors import ValidationFailed
from gateway.http.operator_auth import authenticate

AUDIT_PAGE = 50


async def login_page(request: web.Request) -> web.StreamResponse:
    target = request.query.get("next", PREFIX)
    if await authenticate(request) is not None:
        raise web.HTTPSeeOther(target if safe_next(target) else PREFIX)
    note = "Your session has ended; sign in again." if request.query.get("ended") else None
    return render(
        request,
        "login.html",
        principal=None,
        next=target if safe_next(target) else PREFIX,
        note=note,
        error=None,
        operator_id="",
    )


@page()
async def overview(request: web.Request) -> web.StreamResponse:
    deps, con = deps_of(request)
    now = deps.clock()
    found = await views.overview(deps.views, con.reads, now)
    return render(
        request,
        "overview.html",
        principal=request[ME],
        view=found,
        columns=views.STATE_COLUMNS,
        title="Network overview",
    )


@page()
async def locker(request: web.Request) -> web.StreamResponse:
    deps, con = deps_of(request)
    locker_id = request.match_info["locker_id"]
    status, rows = await deps.views.locker(locker_id)
    now = deps.clock()
    overloads = [seen for seen in await con.reads.overloads(now) if seen.locker_id == locker_id]
    return render(
        request,
        "locker.html",
        principal=request[ME],
        status=status,
        cells=[views.cell_view(row, now) for row in rows],
        overloads=overloads,
        alarmed=views.alarmed(rows),
        rounds=await con.reads.open_rounds(locker_id, now),
        title=f"Locker {locker_id}",
    )


@page()
async def grid(request: web.Request) -> web.StreamResponse:
    """The grid alone: the page's script fetches it when its live stream (re)connects."""
    deps, _ = deps_of(request)
    status, rows = await deps.views.locker(request.match_info["locker_id"])
    now = deps.clock()
    cells = [views.cell_view(row, now) for row in rows]
    return render(request, "grid.html", principal=request[ME], status=status, cells=cells)


@page()
async def parcels(request: web.Request) -> web.StreamResponse:
    deps, _ = deps_of(request)
    now = deps.clock()
    overdue, expiring, more = await views.due_parcels(deps.views, now)
    return render(
        request,
        "parcels.html",
        principal=request[ME],
        overdue=overdue,
        expiring=expiring,
        more=more,
        title="Overdue and expiring parcels",
    )


@page()
async def manifest(request: web.Request) -> web.StreamResponse:
    deps, _ = deps_of(request)
    locker_id = request.query.get("locker") or None
    # The carriers' manifest (GET /v1/collection-manifest), every carrier's parcels.
    lines, more = await deps.views.collection()
    lockers = sorted({line.parcel.locker_id for line in lines})
    return render(
        request,
        "manifest.html",
        principal=request[ME],
        rounds=views.manifest(lines, locker_id),
        lockers=lockers,
        chosen=locker_id,
        more=more,
        title="Collection manifest",
    )


@page()
async def reports(request: web.Request) -> web.StreamResponse:
    _, con = deps_of(request)
    report = await con.reads.report()
    carriers = list(report.volumes)
    hours = [f"{h:02d}" for h in range(24)]
    charts = {
        "volumes": bar_chart(
            chart_id="chart-volumes",
            title=f"Parcels booked per carrier, last {report.days} days",
            desc=", ".join(f"{c}: {n}" for c, n in report.volumes.items()) or "No parcels.",
            labels=carriers,
            values=list(report.volumes.values()),
        ),
        "dwell": bar_chart(
            chart_id="chart-dwell",
            title="Dwell time: from deposit to pickup",
            desc=", ".join(f"{w}: {n}" for w, n in report.dwell),
            labels=[w for w, _ in report.dwell],
            values=[n for _, n in report.dwell],
        ),
        "peak": bar_chart(
            chart_id="chart-peak",
            title="Deposits by hour of day (UTC)",
            desc=", ".join(
                f"{h}:00: {n}" for h, n in zip(hours, report.deposits_by_hour, strict=True)
            ),
            labels=hours,
            values=report.deposits_by_hour,
            label_every=3,
        ),
    }
    return render(
        request,
        "reports.html",
        principal=request[ME],
        report=report,
        charts=charts,
        hours=hours,
        title="Reports",
    )


@page()
async def deliveries(request: web.Request) -> web.StreamResponse:
    deps, con = deps_of(request)
    now = deps.clock()
    lags = views.lag_rows(await con.reads.delivery_lag(), now)
    dead, more = await deps.deliveries.list(None, state=DeliveryState.DEAD, limit=100)
    return render(
        request,
        "deliveries.html",
        principal=request[ME],
        lags=lags,
        dead=dead,
        more=more is not None,
        title="Connectors and deliveries",
    )


@page()
async def audit(request: web.Request) -> web.StreamResponse:
    _, con = deps_of(request)
    raw = request.query.get("before")
    if raw is not None and not (raw.isdigit() and len(raw) <= 18):
        raise ValidationFailed("`before` is an audit position (digits)")
    found = await con.reads.audit_page(None if raw is None else int(raw), AUDIT_PAGE)
    # The whole chain on the first view, then only what came after the head found intact.
    check = await con.audit_check.check()
    return render(
        request,
        "audit.html",
        principal=request[ME],
        page=found,
        report=check.report,
        check=check,
        title="Audit trail",
    )


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get(PREFIX + "/login", login_page)
    r.add_get(PREFIX, overview)
    r.add_get(PREFIX + "/", overview)
    r.add_get(PREFIX + "/lockers/{locker_id}", locker)
    r.add_get(PREFIX + "/lockers/{locker_id}/grid", grid)
    r.add_get(PREFIX + "/parcels", parcels)
    r.add_get(PREFIX + "/manifest", manifest)
    r.add_get(PREFIX + "/reports", reports)
    r.add_get(PREFIX + "/deliveries", deliveries)
    r.add_get(PREFIX + "/audit", audit)
