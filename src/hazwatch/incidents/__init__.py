"""Disposal: alarms become incidents with emergency plans, tasks, escalation up the tiers,
notifications and confirmed interlock writes, and a close-out report."""
