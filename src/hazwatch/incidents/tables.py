"""The incident desk's tables as Core tables, under the short names every part of the desk uses
(its bulk reads and writes go through Core, not the ORM): one place, not one copy per part."""

from __future__ import annotations

from hazwatch.alarms.models import Alarm
from hazwatch.incidents.models import Incident, IncidentAlarm, IncidentEvent, IncidentTask, Interlock, ReportClock

_A = Alarm.__table__
_I = Incident.__table__
_IA = IncidentAlarm.__table__
_E = IncidentEvent.__table__
_TASK = IncidentTask.__table__
_C = ReportClock.__table__
_L = Interlock.__table__
