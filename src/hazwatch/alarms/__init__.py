"""ISA-18.2 alarm management: states, shelving, suppression, out-of-service, journal."""

from hazwatch.alarms.manager import AlarmCommandError, AlarmManager, AlarmPoint, Change, public

__all__ = ["AlarmCommandError", "AlarmManager", "AlarmPoint", "Change", "public"]
