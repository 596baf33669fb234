"""Alarm-system and response KPIs (ISA-18.2 / EEMUA 191, SAFETY.md §5) for one area and period,
computed from the alarm journal (raised, cleared and acknowledged events, stamped with the reading's
time for process events and the operator's for commands) and from the incidents' timelines.

- rate: alarms raised per 10 minutes and per hour (average over the period) and the busiest
  10 minutes; the share of 10-minute periods in flood (more than `flood_per_10min` alarms);
- top offenders: the ten alarms raised most often and their share of all alarms;
- chattering: alarms raised `chatter_activations` times or more within `chatter_window_s`;
- fleeting: activations that cleared within `fleeting_s`;
- standing: alarms active for more than `standing_s` at the end of the period;
- priority mix against the 80/15/5 guideline (low / medium / high and urgent);
- response: time from raise to acknowledgement; for incidents, from opening to acknowledgement,
  to containment and to closing."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from hazwatch.alarms.hygiene import HygienePolicy
from hazwatch.domain.batch import US
from hazwatch.domain.clock import iso
from hazwatch.domain.limits import Priority

TEN_MIN = 600 * US
GUIDE = {"low": 80.0, "medium": 15.0, "high": 5.0}  # high includes urgent


@dataclass(frozen=True)
class KpiPolicy:
    """The KPI thresholds. Floods and chattering are counted by the live alarm hygiene's own
    thresholds (`HygienePolicy`, their one home), so the reports count what the console flagged."""

    hygiene: HygienePolicy = field(default_factory=HygienePolicy)
    fleeting_s: float = 10.0
    standing_s: float = 86400.0

    @property
    def flood_per_10min(self) -> int:
        return self.hygiene.flood_alarms

    @property
    def chatter_activations(self) -> int:
        return self.hygiene.chatter_activations

    @property
    def chatter_window_s(self) -> float:
        return self.hygiene.chatter_window_s


def _spread(seconds: list[float]) -> dict:
    if not seconds:
        return {"count": 0, "mean_s": None, "median_s": None, "p90_s": None}
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return {"count": len(ordered), "mean_s": round(statistics.fmean(ordered), 3),
            "median_s": round(statistics.median(ordered), 3), "p90_s": round(p90, 3)}


def alarm_kpis(events: list[dict], alarms: dict[int, dict], start: int, end: int,
               policy: KpiPolicy | None = None, bucket_us: int | None = None) -> dict:
    """events: journal rows {alarm_id, ts, event} of the area's alarms, any order, from `start` on;
    alarms: id -> {label, priority, active, raised_at} of the same alarms. Times in µs."""
    p = policy or KpiPolicy()
    events = sorted(events, key=lambda e: (e["ts"], e.get("id", 0)))
    raised = [e for e in events if e["event"] == "raised" and start <= e["ts"] < end]
    periods = max(1, -(-(end - start) // TEN_MIN))
    hours = (end - start) / (3600 * US)
    per_period = Counter((e["ts"] - start) // TEN_MIN for e in raised)
    counts = Counter(e["alarm_id"] for e in raised)
    total = len(raised)

    top = [{"alarm": a, "label": alarms.get(a, {}).get("label", str(a)), "count": n,
            "share": round(100.0 * n / total, 2)} for a, n in counts.most_common(10)]
    by_alarm: dict[int, list[dict]] = defaultdict(list)
    for e in events:
        by_alarm[e["alarm_id"]].append(e)

    window = int(p.chatter_window_s * US)
    chattering, fleeting, ack_s = [], 0, []
    for alarm_id, evs in by_alarm.items():
        times = [e["ts"] for e in evs if e["event"] == "raised" and start <= e["ts"] < end]
        k = p.chatter_activations
        if any(times[i + k - 1] - times[i] <= window for i in range(len(times) - k + 1)):
            chattering.append({"alarm": alarm_id, "label": alarms.get(alarm_id, {}).get("label", str(alarm_id)),
                               "count": len(times)})
        pending_raise: int | None = None
        waiting_ack: int | None = None
        for e in evs:
            if e["event"] == "raised":
                pending_raise = e["ts"] if start <= e["ts"] < end else None
                waiting_ack = pending_raise
            elif e["event"] == "cleared" and pending_raise is not None:
                if e["ts"] - pending_raise < p.fleeting_s * US:
                    fleeting += 1
                pending_raise = None
            elif e["event"] == "acknowledged" and waiting_ack is not None:
                ack_s.append(max(0.0, (e["ts"] - waiting_ack) / US))
                waiting_ack = None

    standing = [{"alarm": a, "label": info.get("label", str(a)), "since": iso(info["raised_at"])}
                for a, info in alarms.items()
                if info.get("active") and info.get("raised_at") is not None
                and info["raised_at"] <= end - p.standing_s * US]
    mix = Counter()
    for e in raised:
        label = Priority(alarms.get(e["alarm_id"], {}).get("priority", int(Priority.MEDIUM))).label
        mix["high" if label in ("high", "urgent") else label] += 1
    priorities = {k: {"count": mix[k], "percent": round(100.0 * mix[k] / total, 1) if total else 0.0,
                      "guideline_percent": GUIDE[k]} for k in GUIDE}
    unacknowledged = sum(1 for e in raised) - len(ack_s)
    out = {
        "raised": total,
        "per_10min": round(total / periods, 3),
        "per_hour": round(total / hours, 3) if hours else None,
        "peak_10min": max(per_period.values(), default=0),
        "periods_10min": periods,
        "flood_percent": round(100.0 * sum(1 for n in per_period.values() if n > p.flood_per_10min) / periods, 2),
        "top10": top,
        "top10_share": round(sum(t["share"] for t in top), 2),
        "chattering": sorted(chattering, key=lambda c: -c["count"]),
        "fleeting": fleeting,
        "standing": standing,
        "priorities": priorities,
        "acknowledge": _spread(ack_s) | {"unacknowledged": max(0, unacknowledged)},
    }
    if bucket_us:  # alarms raised per bucket, for plotting the rate over time
        per_bucket = Counter((e["ts"] - start) // bucket_us for e in raised)
        out["series"] = [(start + i * bucket_us, per_bucket.get(i, 0))
                         for i in range(max(1, -(-(end - start) // bucket_us)))]
    return out


def incident_kpis(incidents: list[dict]) -> dict:
    """incidents: {opened_at, acknowledged_at, contained_at, closed_at} in µs (None where not yet)."""
    def span(key: str) -> list[float]:
        return [(i[key] - i["opened_at"]) / US for i in incidents if i.get(key) is not None]

    return {"opened": len(incidents), "acknowledge": _spread(span("acknowledged_at")),
            "contain": _spread(span("contained_at")), "close": _spread(span("closed_at"))}
