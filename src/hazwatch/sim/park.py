"""The demo park's catalog: a regulator's region, a chemical park, a tank-farm enterprise and a fine-chemicals
enterprise with a reactor unit; about 200 sensors with GB/T 50493 gas-detection setpoints."""

from __future__ import annotations

from hazwatch.catalog.schema import (
    CatalogDoc,
    DeviceDoc,
    HazardSourceDoc,
    OrgDoc,
    PlanDoc,
    RuleDoc,
    SensorDoc,
    SiteDoc,
    StepDoc,
    SubstanceDoc,
    TriggerDoc,
)

LON, LAT = 121.46, 30.74  # a coastal chemical park


def _gas_combustible(tag: str, device: str, hs: str, i: int) -> SensorDoc:
    # GB/T 50493-2019: level-1 alarm ≤ 25 %LEL, level-2 ≤ 50 %LEL.
    return SensorDoc(tag=tag, name=f"Combustible gas detector {i}", kind="combustible_gas", unit="%LEL",
                     device=device, hazard_source=hs, range_low=0, range_high=100, h=25, hh=50,
                     priority_h="high", priority_hh="urgent", deadband=2, on_delay_s=2, off_delay_s=5,
                     longitude=LON + 0.0004 * i, latitude=LAT + 0.0002 * (i % 7))


def _gas_toxic(tag: str, device: str, hs: str, i: int, gas: str, l1: float, l2: float, top: float) -> SensorDoc:
    # GB/T 50493-2019: level-1 ≤ 100 % OEL, level-2 ≤ 200 % OEL (mg/m³).
    return SensorDoc(tag=tag, name=f"{gas} detector {i}", kind="toxic_gas", unit="mg/m3", device=device,
                     hazard_source=hs, range_low=0, range_high=top, h=l1, hh=l2, priority_h="high",
                     priority_hh="urgent", deadband=l1 * 0.1, on_delay_s=2, off_delay_s=5,
                     longitude=LON + 0.0003 * i, latitude=LAT - 0.0002 * (i % 5))


def _oxygen(tag: str, device: str, hs: str, i: int) -> SensorDoc:
    return SensorDoc(tag=tag, name=f"Oxygen analyser {i}", kind="oxygen", unit="%VOL", device=device,
                     hazard_source=hs, range_low=0, range_high=30, l=19.5, h=23.5, priority_l="high",
                     priority_h="high", deadband=0.2, on_delay_s=2)


def park_catalog() -> CatalogDoc:
    orgs = [
        OrgDoc(code="R-JS", name="Jinshan District Emergency Management Bureau", kind="region"),
        OrgDoc(code="P-CHEM", name="Coastal Chemical Industry Park", kind="park", parent="R-JS"),
        OrgDoc(code="E-TANK", name="Haigang Tank Storage Co.", kind="enterprise", parent="P-CHEM"),
        OrgDoc(code="E-FINE", name="Donghai Fine Chemicals Co.", kind="enterprise", parent="P-CHEM"),
    ]
    sites = [SiteDoc(code="S-TANK", name="Tank farm site", org="E-TANK", longitude=LON, latitude=LAT),
             SiteDoc(code="S-FINE", name="Reactor unit site", org="E-FINE", longitude=LON + 0.01, latitude=LAT)]
    hazards = [
        HazardSourceDoc(code="HS-TANK-A", name="Tank area A (methanol, benzene, toluene)", org="E-TANK",
                        site="S-TANK", kind="storage_tank_area", exposed_people=60,
                        substances=[SubstanceDoc(name="methanol", cas="67-56-1", quantity_t=4000),
                                    SubstanceDoc(name="benzene", cas="71-43-2", quantity_t=900),
                                    SubstanceDoc(name="toluene", cas="108-88-3", quantity_t=1200)]),
        HazardSourceDoc(code="HS-LPG", name="LPG sphere area", org="E-TANK", site="S-TANK",
                        kind="storage_tank_area", exposed_people=60,
                        substances=[SubstanceDoc(name="liquefied petroleum gas", cas="68476-85-7",
                                                 quantity_t=400)]),
        HazardSourceDoc(code="HS-REACT", name="Nitration and ammoniation unit", org="E-FINE", site="S-FINE",
                        kind="production_unit", exposed_people=120,
                        substances=[SubstanceDoc(name="ammonia", cas="7664-41-7", quantity_t=30),
                                    SubstanceDoc(name="chlorine", cas="7782-50-5", quantity_t=8)]),
    ]
    devices = [
        DeviceDoc(code="E-TANK-DCS", name="Tank farm DCS", kind="dcs", org="E-TANK", site="S-TANK",
                  hazard_source="HS-TANK-A"),
        DeviceDoc(code="E-TANK-GDS", name="Tank farm gas detection system", kind="gds", org="E-TANK",
                  site="S-TANK", hazard_source="HS-TANK-A"),
        DeviceDoc(code="E-FINE-DCS", name="Reactor unit DCS", kind="dcs", org="E-FINE", site="S-FINE",
                  hazard_source="HS-REACT"),
        DeviceDoc(code="E-FINE-GDS", name="Reactor unit gas detection system", kind="gds", org="E-FINE",
                  site="S-FINE", hazard_source="HS-REACT"),
    ]
    s: list[SensorDoc] = []
    # Tank farm: 10 atmospheric tanks and 2 LPG spheres.
    for n in range(1, 13):
        sphere = n > 10
        hs = "HS-LPG" if sphere else "HS-TANK-A"
        tk = f"TK{100 + n}"
        s.append(SensorDoc(tag=f"{tk}-LT", name=f"{tk} level", kind="level", unit="m", device="E-TANK-DCS",
                           hazard_source=hs, range_low=0, range_high=20, ll=0.5, l=1.0, h=17.0, hh=18.5,
                           priority_hh="urgent", deadband=0.05, on_delay_s=1))
        s.append(SensorDoc(tag=f"{tk}-TT", name=f"{tk} temperature", kind="temperature", unit="°C",
                           device="E-TANK-DCS", hazard_source=hs, range_low=-20, range_high=100, h=40, hh=50,
                           deadband=0.5))
        if sphere:
            s.append(SensorDoc(tag=f"{tk}-PT", name=f"{tk} pressure", kind="pressure", unit="MPa",
                               device="E-TANK-DCS", hazard_source=hs, range_low=0, range_high=2.5, h=1.6, hh=1.77,
                               deadband=0.02))
        else:
            s.append(SensorDoc(tag=f"{tk}-PT", name=f"{tk} vapour space pressure", kind="pressure", unit="kPa",
                               device="E-TANK-DCS", hazard_source=hs, range_low=-5, range_high=20, l=-1.5, h=6,
                               hh=8, deadband=0.2))
    for n in range(1, 9):
        s.append(SensorDoc(tag=f"P{200 + n}-PT", name=f"Transfer pump P{200 + n} discharge pressure",
                           kind="pressure", unit="MPa", device="E-TANK-DCS", range_low=0, range_high=2.5,
                           l=0.2, h=1.6, deadband=0.02, on_delay_s=3))
        s.append(SensorDoc(tag=f"P{200 + n}-FT", name=f"Transfer pump P{200 + n} flow", kind="flow",
                           unit="m3/h", device="E-TANK-DCS", range_low=0, range_high=300, h=260, deadband=2))
    for i in range(1, 31):
        s.append(_gas_combustible(f"GT{300 + i}", "E-TANK-GDS", "HS-TANK-A" if i <= 24 else "HS-LPG", i))
    for i in range(1, 11):
        s.append(_gas_toxic(f"AT{400 + i}", "E-TANK-GDS", "HS-TANK-A", i, "Benzene", 6, 12, 100))
    for i in range(1, 5):
        s.append(_oxygen(f"OT{450 + i}", "E-TANK-GDS", "HS-TANK-A", i))
    # Reactor unit: 4 reactors with 8 points each.
    for r in range(1, 5):
        rx = f"R{500 + r}"
        s += [
            SensorDoc(tag=f"{rx}-TT", name=f"{rx} reaction temperature", kind="temperature", unit="°C",
                      device="E-FINE-DCS", hazard_source="HS-REACT", range_low=0, range_high=300, l=60, h=120,
                      hh=135, priority_hh="urgent", deadband=1, on_delay_s=1),
            SensorDoc(tag=f"{rx}-PT", name=f"{rx} pressure", kind="pressure", unit="MPa", device="E-FINE-DCS",
                      hazard_source="HS-REACT", range_low=0, range_high=4, h=2.5, hh=3.0, priority_hh="urgent",
                      deadband=0.03),
            SensorDoc(tag=f"{rx}-LT", name=f"{rx} level", kind="level", unit="%", device="E-FINE-DCS",
                      hazard_source="HS-REACT", range_low=0, range_high=100, l=10, h=80, hh=90, deadband=1),
            SensorDoc(tag=f"{rx}-FT-FEED", name=f"{rx} feed flow", kind="flow", unit="m3/h", device="E-FINE-DCS",
                      hazard_source="HS-REACT", range_low=0, range_high=50, ll=2, l=5, h=40, deadband=0.5,
                      on_delay_s=2),
            SensorDoc(tag=f"{rx}-FT-CW", name=f"{rx} cooling water flow", kind="flow", unit="m3/h",
                      device="E-FINE-DCS", hazard_source="HS-REACT", range_low=0, range_high=100, ll=10, l=20,
                      deadband=1, on_delay_s=2),
            SensorDoc(tag=f"{rx}-TT-CW", name=f"{rx} cooling water return temperature", kind="temperature",
                      unit="°C", device="E-FINE-DCS", hazard_source="HS-REACT", range_low=0, range_high=100,
                      h=45, deadband=0.5),
            SensorDoc(tag=f"{rx}-IT", name=f"{rx} agitator current", kind="current", unit="A", device="E-FINE-DCS",
                      hazard_source="HS-REACT", range_low=0, range_high=100, l=10, h=80, deadband=1, on_delay_s=3),
            SensorDoc(tag=f"{rx}-XS", name=f"{rx} agitator running", kind="state", unit="", device="E-FINE-DCS",
                      hazard_source="HS-REACT", range_low=0, range_high=1),
        ]
    for c in range(1, 5):
        k = f"K{600 + c}"
        s += [
            SensorDoc(tag=f"{k}-PT", name=f"Compressor {k} discharge pressure", kind="pressure", unit="MPa",
                      device="E-FINE-DCS", range_low=0, range_high=4, h=2.8, hh=3.2, deadband=0.03),
            SensorDoc(tag=f"{k}-TT", name=f"Compressor {k} discharge temperature", kind="temperature", unit="°C",
                      device="E-FINE-DCS", range_low=0, range_high=200, h=130, hh=150, deadband=1),
            SensorDoc(tag=f"{k}-VT", name=f"Compressor {k} vibration", kind="vibration", unit="mm/s",
                      device="E-FINE-DCS", range_low=0, range_high=50, h=7.1, hh=11.2, deadband=0.2, on_delay_s=2),
        ]
    for i in range(1, 31):
        s.append(_gas_combustible(f"GT{700 + i}", "E-FINE-GDS", "HS-REACT", i))
    for i in range(1, 15):
        s.append(_gas_toxic(f"AT{800 + i}", "E-FINE-GDS", "HS-REACT", i, "Ammonia", 20, 40, 200))
    for i in range(1, 7):
        s.append(_gas_toxic(f"AT{850 + i}", "E-FINE-GDS", "HS-REACT", i, "Chlorine", 1, 2, 20))
    for i in range(1, 5):
        s.append(_oxygen(f"OT{870 + i}", "E-FINE-GDS", "HS-REACT", i))
    # Every instrument reports once a second: five silent seconds is a STALE fault. Analogue process
    # values are never perfectly still, so a minute without change is a stuck transmitter (FLAT);
    # gas detectors read zero in clean air for hours and on/off states stay put, so they are not watched.
    watched = {"level", "temperature", "pressure", "flow", "current", "vibration"}
    s = [x.model_copy(update={"interval_s": 1.0, "stale_intervals": 5,
                              "flatline_s": 60.0 if x.kind in watched else None}) for x in s]
    # Warning in advance: tank levels predict their H crossing a minute ahead; a reactor temperature
    # climbing faster than 30 °C/min is a runaway whatever its value; an agitator's current is
    # expected to be low while the agitator is stopped.
    early = {}
    for x in s:
        if x.kind == "level" and x.tag.startswith("TK"):
            early[x.tag] = {"trend_horizon_s": 60.0, "trend_window_s": 30.0}
        elif x.tag.endswith("-TT") and x.tag.startswith("R5"):
            early[x.tag] = {"roc_limit": 30.0, "roc_window_s": 10.0, "roc_deadband": 10.0}
        elif x.tag.endswith("-IT") and x.tag.startswith("R5"):
            early[x.tag] = {"suppress_when": f"stopped({x.tag[:4]}-XS)"}
    s = [x.model_copy(update=early.get(x.tag, {})) for x in s]
    rules = [
        RuleDoc(code="GDS-A-2OO3", name="Tank area A: two of three gas detectors at level 1", org="E-TANK",
                when="2 of (GT304 > 25, GT305 > 25, GT306 > 25)", priority="urgent"),
        RuleDoc(code="R-HOT-NO-CW", name="Reactor hot with its cooling water low", org="E-FINE",
                when="R502-TT > 110 and R502-FT-CW < 20 for 5s", priority="urgent"),
    ]
    return CatalogDoc(orgs=orgs, sites=sites, hazard_sources=hazards, devices=devices, sensors=s, rules=rules,
                      plans=plans(), incident_triggers=triggers())


def plans() -> list[PlanDoc]:
    """The park's three layers of emergency plans (SAFETY.md §6)."""
    return [
        PlanDoc(code="GP-PARK", name="Park general emergency plan", layer="general", org="P-CHEM", steps=[
            StepDoc(title="Confirm the alarm in the field and report to the shift supervisor", role="operator",
                    due_min=5),
            StepDoc(title="Decide the response level and whether to call the park", role="supervisor", due_min=15),
        ]),
        PlanDoc(code="SP-TOXIC", name="Hazardous chemical release", layer="specific", org="P-CHEM",
                hazard_types=["toxic_release"], steps=[
                    StepDoc(title="Sound the release alarm and evacuate downwind of the leak", role="operator",
                            due_min=3),
                    StepDoc(title="Isolate the leak in breathing apparatus; stop transfers in the area",
                            role="operator", due_min=10),
                    StepDoc(title="Call the park fire brigade if the leak is not isolated", role="supervisor",
                            due_min=15),
                ]),
        PlanDoc(code="SP-OVERFILL", name="Tank overfill", layer="specific", org="P-CHEM", hazard_types=["overfill"],
                steps=[StepDoc(title="Stop the inflow to the tank and divert to a spare tank", role="operator",
                               due_min=3)]),
        PlanDoc(code="SP-RUNAWAY", name="Runaway reaction", layer="specific", org="P-CHEM",
                hazard_types=["runaway_reaction"],
                steps=[StepDoc(title="Stop the feed, full cooling water, prepare the quench", role="operator",
                               due_min=2)]),
        PlanDoc(code="OS-TANK-A", name="Tank area A on-site procedure", layer="onsite", org="E-TANK",
                locations=["HS-TANK-A"],
                steps=[StepDoc(title="Check the dike drain valves of tank area A are closed", role="operator",
                               due_min=10)]),
    ]


def triggers() -> list[TriggerDoc]:
    return [
        TriggerDoc(code="TR-GAS-HH", name="Gas detector at level 2 on a major hazard source", org="P-CHEM",
                   conditions=["HH"], sensor_kinds=["combustible_gas", "toxic_gas"], major_hazard_only=True,
                   hazard_type="toxic_release"),
        TriggerDoc(code="TR-HH-MAJOR", name="HH alarm on a major hazard source", org="P-CHEM", conditions=["HH"],
                   major_hazard_only=True),
        TriggerDoc(code="TR-RULE-URGENT", name="Urgent compound rule", org="P-CHEM", conditions=["RULE"],
                   min_priority="urgent"),
        TriggerDoc(code="TR-ANOM-HELD", name="Unit anomaly held for 2 minutes", org="P-CHEM", conditions=["ANOM"],
                   hold_s=120),
    ]
