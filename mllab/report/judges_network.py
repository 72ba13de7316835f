"""The judges of lab 03's network and isolation claims: C20 (host networking) and C21
(disjoint resources), read from ``NetworkModes`` and ``Neighbours``.

Like the other judges (:mod:`mllab.report.judges_images`), each reads exact record fields and
gives a :class:`~mllab.report.verdict.Judgement`; a missing record, another schema version or a
measurement that did not run raises :class:`~mllab.report.verdict.NotMeasured`. A latency
difference counts only beyond the round-to-round spread of p50 of both sides compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mllab.core.records import Results
from mllab.experiments.architecture.neighbours import Neighbours
from mllab.experiments.architecture.networks import NetworkModes
from mllab.report.verdict import (
    Evidence,
    Judgement,
    NotMeasured,
    Verdict,
    evidence,
    outcome_text,
    two_halves,
)

#: the settings that limit the neighbours (C21), in the order the verdict names them
LIMITED = ("--cpus 1", "--cpuset-cpus")


def judge_c20(results: Results) -> Judgement:
    """03 ``NetworkModes``: modes (mode, path, outcome, predict and health: p50_ms, p99_ms,
    spread_ms, round_p50_ms, requests), host_interfaces, host_mode_interfaces,
    bridge_interfaces.

    The lecture: host networking gives "максимальная производительность, но без изоляции"
    (line 277). Two halves, each judged on its own and both named in the verdict.
    Performance: the batch-1 ``/predict`` p50 through ``--network host`` against the default
    bridge with a published port, from the same client, rounds interleaved; it holds when the
    host's p50 is lower by more than the spread. Isolation ("no isolation"): a host-mode
    container lists every interface the host has.

    Fails when: the host's p50 is not lower than the bridge's beyond the spread (within it: no
    measurable gain here; above it: host is slower), or a host-mode container does not see the
    host's interfaces. Control: the user-defined network reaches the same server process as
    the bridge by another path; ``/health`` latency (no model behind it) shows the paths' own
    cost; a bridge container lists only its own interfaces. No difference: the p50s differ by
    no more than the larger of the two modes' round-to-round spreads (max − min of p50)."""
    r = evidence(results, "03", "NetworkModes", schema=NetworkModes.SCHEMA_VERSION)
    modes = _by(r, "modes", "mode")
    measured = f"{_latencies(modes)}; {_interfaces(r)} {r.source}"
    speed, speed_holds = _speed(r, modes)
    isolation, isolation_holds = _isolation(r)
    halves = f"performance: {speed}; isolation: {isolation}"
    return two_halves(measured, r.where, halves, speed_holds, isolation_holds)


def _latency(mode: Mapping[str, Any] | None, kind: str = "predict") -> Mapping[str, Any] | None:
    """A mode's latency of ``kind`` when it ran, else None."""
    if not mode or outcome_text(mode.get("outcome")) is not None:
        return None
    value = mode.get(kind)
    return value if isinstance(value, Mapping) and value.get("p50_ms") is not None else None


def _latencies(modes: Mapping[str, Mapping[str, Any]]) -> str:
    """Every mode's /predict p50 (spread) and /health p50, in words."""
    parts = []
    for name, mode in modes.items():
        lat, health = _latency(mode), _latency(mode, "health")
        if lat is None:
            parts.append(f"{name} {outcome_text(mode.get('outcome')) or 'no latency'}")
            continue
        ping = f", /health {health['p50_ms']:.2f}" if health else ""
        parts.append(
            f"{name} p50 {lat['p50_ms']:.1f} ms (spread {lat['spread_ms']:.1f}, "
            f"p99 {lat['p99_ms']:.1f}{ping})"
        )
    return "batch-1 /predict: " + "; ".join(parts) if parts else "no modes recorded"


def _interfaces(r: Evidence) -> str:
    host, seen = r.get("host_interfaces") or [], r.get("host_mode_interfaces") or []
    bridge = r.get("bridge_interfaces") or []
    return (
        f"interfaces: host {len(host)}, a --network host container {len(seen)}, "
        f"a bridge container {len(bridge)}"
    )


def _speed(r: Evidence, modes: Mapping[str, Mapping[str, Any]]) -> tuple[str, bool | None]:
    """The performance half: words, and True / False / None (not measured)."""
    bridge, host = _latency(modes.get("bridge")), _latency(modes.get("host"))
    if bridge is None or host is None:
        which = "bridge" if bridge is None else "host"
        why = outcome_text((modes.get(which) or {}).get("outcome")) or "no latency recorded"
        return f"not measured ({which}: {why})", None
    gain = float(bridge["p50_ms"]) - float(host["p50_ms"])
    line = max(float(bridge["spread_ms"]), float(host["spread_ms"]))
    compared = f"host p50 {host['p50_ms']:.1f} ms vs bridge {bridge['p50_ms']:.1f} ms"
    if gain > line:
        return f"{compared}: faster by {gain:.1f} ms, beyond the spread {line:.1f} ms", True
    if -gain > line:
        return f"{compared}: slower by {-gain:.1f} ms, beyond the spread {line:.1f} ms", False
    return (
        f"no measurable gain here ({compared}: Δ {gain:+.1f} ms within the spread {line:.1f} ms)",
        False,
    )


def _isolation(r: Evidence) -> tuple[str, bool | None]:
    """The "no isolation" half: does a host-mode container see every host interface?"""
    host, seen = r.get("host_interfaces") or [], r.get("host_mode_interfaces") or []
    bridge = r.get("bridge_interfaces") or []
    if not host or not seen:
        return "not measured (no interface list recorded)", None
    missing = sorted(set(host) - set(seen))
    control = f"a bridge container sees {len(bridge)} of its own ({', '.join(bridge)})"
    if missing:
        names = ", ".join(missing)
        return f"a host-mode container does not see {len(missing)} host interfaces ({names})", False
    return f"a host-mode container sees all {len(host)} host interfaces, {control}", True


def judge_c21(results: Results) -> Judgement:
    """03 ``Neighbours``: settings (setting, a, b, outcome, latency: p50_ms, p99_ms,
    spread_ms, round_p50_ms, requests), cores, threads, users, load_cpu_s, load_s.

    The lecture: R(Cᵢ) ∩ R(Cⱼ) = ∅ "гарантируется cgroups и namespaces" (lines 333–341). On
    the CPU: server A's batch-1 p50 beside a neighbour B kept busy by a load generator, with
    ``--cpus 1`` each and pinned to separate cores (``--cpuset-cpus``), against A alone (B
    frozen by ``docker pause``). "Guaranteed disjoint" holds for the CPU when A's p50 under
    both limits stays within the spread of A alone.

    Fails when: under a limit, A's p50 grows beyond the spread (the verdict names the setting
    and by how much). Control: B loaded without limits must slow A beyond the spread — if it
    does not, the load was too weak (or the machine too noisy) to test anything, and the
    claim is not measured. The low
    overhead of the shared kernel is C5's measurement, not this one. No difference: A's p50
    differs from A alone by no more than A alone's round-to-round spread (max − min of p50):
    A alone is the reference, and a neighbour that widens A's own spread is no sign of
    isolation, so a setting's spread does not widen the line."""
    r = evidence(results, "03", "Neighbours", schema=Neighbours.SCHEMA_VERSION)
    settings = _by(r, "settings", "setting")
    alone = _setting_latency(settings, "alone")
    if alone is None:
        raise NotMeasured(f"{r.where}: the setting 'alone' {_problem(settings, 'alone')}")
    lats = {
        name: lat
        for name in ("no limits", *LIMITED)
        if (lat := _setting_latency(settings, name)) is not None
    }
    base, line = float(alone["p50_ms"]), float(alone["spread_ms"])
    shifts = {name: float(lat["p50_ms"]) - base for name, lat in lats.items()}
    figures = "; ".join(
        f"{name}: Δp50 {shifts[name]:+.1f} ms (p99 {lat['p99_ms']:.1f}, spread "
        f"{lat['spread_ms']:.1f})"
        for name, lat in lats.items()
    )
    measured = (
        f"A alone p50 {base:.1f} ms (p99 {alone['p99_ms']:.1f}, spread {line:.1f}); {figures}"
    )
    load = (
        f"B ({r.get('b_threads')} threads, A {r.get('threads')}): locust {r.get('users')} "
        f"users, {r.get('b_requests')} answers; the load generator "
        f"used {float(r.get('load_cpu_s') or 0):.1f} CPU-s of the same {r.get('cores')} cores"
    )
    measured = f"{measured}; {load} {r.source}"
    if "no limits" not in shifts:
        why = _problem(settings, "no limits")
        raise NotMeasured(f"{r.where}: the control (no limits) {why}", measured)
    control = shifts["no limits"]
    if control <= line:
        raise NotMeasured(
            f"{r.where}: the control failed: a loaded neighbour without limits did not slow A "
            f"beyond A alone's spread (Δ {control:+.1f} ms ≤ {line:.1f} ms): the load was "
            "too weak, or the machine too noisy, to test isolation",
            measured,
        )
    limited = [name for name in LIMITED if name in shifts]
    if not limited:
        why = "; ".join(f"{name} {_problem(settings, name)}" for name in LIMITED)
        raise NotMeasured(f"{r.where}: no limited setting measured ({why})", measured)
    grown = [
        f"with {name} A's p50 grew by {shifts[name]:.1f} ms (+{shifts[name] / base:.0%}), "
        f"beyond A alone's spread {line:.1f} ms"
        for name in limited
        if shifts[name] > line
    ]
    effect = f"the unlimited neighbour added {control:.1f} ms"
    if grown:
        text = f"not disjoint on the CPU: {'; '.join(grown)} ({effect})"
        return Judgement(measured, Verdict.does_not_hold(text))
    within = ", ".join(limited)
    text = f"for the CPU: with {within} A's p50 stays within the spread of A alone, while {effect}"
    missing = [name for name in LIMITED if name not in shifts]
    if missing:
        why = "; ".join(f"{name} {_problem(settings, name)}" for name in missing)
        return Judgement(measured, Verdict.holds_in_part(f"{text}; not measured: {why}"))
    return Judgement(measured, Verdict.holds(text))


def _by(r: Evidence, name: str, key: str) -> dict[str, Mapping[str, Any]]:
    """The list field ``name`` (of nested records) by each one's ``key``."""
    items = r.get(name) or []
    return {str(item.get(key)): item for item in items if isinstance(item, Mapping)}


def _setting_latency(
    settings: Mapping[str, Mapping[str, Any]], name: str
) -> Mapping[str, Any] | None:
    """A setting's latency when it ran, else None."""
    setting = settings.get(name) or {}
    lat = setting.get("latency")
    if outcome_text(setting.get("outcome")) is None and isinstance(lat, Mapping):
        if lat.get("p50_ms") is not None:
            return lat
    return None


def _problem(settings: Mapping[str, Mapping[str, Any]], name: str) -> str:
    setting = settings.get(name)
    if setting is None:
        return "not recorded"
    return outcome_text(setting.get("outcome")) or "has no latency"
