"""Read and write catalog documents: YAML or JSON (the whole catalog) and CSV (sensors only)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hazwatch.catalog.errors import CatalogError
from hazwatch.catalog.schema import CSV_COLUMNS, CatalogDoc, SensorDoc


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def parse_document(data: Any, source: str) -> CatalogDoc:
    if not isinstance(data, dict):
        raise CatalogError([f"{source}: the document must be a mapping with orgs, sites, devices, sensors"])
    try:
        return CatalogDoc.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = tuple(p for p in err["loc"] if p not in ("function-after[_limits_ordered()]",))
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{source}: {_loc(loc)}: {msg}")
        raise CatalogError(problems) from None


def _model_files(data: Any, base: Path | None, source: str) -> None:
    """A unit's model may be given as the path of the file `hazwatch model fit` wrote."""
    units = data.get("units") if isinstance(data, dict) else None
    if not isinstance(units, list):
        return
    for i, u in enumerate(units):
        ref = u.get("model") if isinstance(u, dict) else None
        if not isinstance(ref, str):
            continue
        path = Path(ref) if base is None or Path(ref).is_absolute() else base / ref
        try:
            u["model"] = json.loads(path.read_text())
        except OSError as e:
            raise CatalogError([f"{source}: units[{i}].model: cannot read {ref!r}: {e.strerror or e}"]) from None
        except json.JSONDecodeError as e:
            raise CatalogError([f"{source}: units[{i}].model: {ref!r} is not JSON ({e.msg})"]) from None


def load_text(text: str, fmt: str, source: str, base: Path | None = None) -> CatalogDoc:
    if fmt == "csv":
        return parse_csv(text, source)
    try:
        data = json.loads(text) if fmt == "json" else yaml.safe_load(text)
    except json.JSONDecodeError as e:
        raise CatalogError([f"{source}: line {e.lineno}: invalid JSON: {e.msg}"]) from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise CatalogError([f"{source}: {where}invalid YAML: {getattr(e, 'problem', e)}"]) from None
    if base is not None:
        _model_files(data, base, source)
    return parse_document(data, source)


def format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "yaml"
    if suffix in (".json", ".csv"):
        return suffix[1:]
    raise CatalogError([f"{path}: unknown catalog format {suffix!r}; use .yaml, .yml, .json or .csv"])


def load_file(path: Path) -> CatalogDoc:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise CatalogError([f"{path}: cannot read: {e.strerror}"]) from None
    return load_text(text, format_of(path), str(path), base=path.parent)


_BLANK_IS_NONE = {"ll", "l", "h", "hh", "hazard_source", "longitude", "latitude", "interval_s", "flatline_s", "source",
                 "roc_limit", "trend_horizon_s", "suppress_when"}
_BOOL = {"1": True, "true": True, "yes": True, "y": True, "0": False, "false": False, "no": False, "n": False}


def parse_csv(text: str, source: str) -> CatalogDoc:
    reader = csv.DictReader(io.StringIO(text, newline=""))  # the csv module reads line ends itself
    try:
        return _csv_rows(reader, source)
    except csv.Error as e:  # a stray quote or line end the dialect cannot read
        raise CatalogError([f"{source}: line {reader.line_num}: unreadable CSV: {e}"]) from None


def _csv_rows(reader: csv.DictReader, source: str) -> CatalogDoc:
    header = reader.fieldnames or []
    missing = [c for c in ("tag", "name", "kind", "unit", "range_low", "range_high", "device") if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"{source}: line 1: missing columns: {', '.join(missing)}")
        if unknown:
            problems.append(f"{source}: line 1: unknown columns: {', '.join(unknown)}")
        raise CatalogError(problems)
    sensors, problems = [], []
    for row in reader:
        line = reader.line_num
        item: dict[str, Any] = {}
        for key, raw in row.items():
            if key is None:
                problems.append(f"{source}: line {line}: more fields than columns")
                continue
            val = (raw or "").strip()
            if val == "" and (key in _BLANK_IS_NONE or key not in ("tag", "name", "kind", "unit", "device")):
                continue
            if key == "in_use":
                if val.lower() not in _BOOL:
                    problems.append(f"{source}: line {line}: column in_use: {val!r} is not yes/no")
                    continue
                item[key] = _BOOL[val.lower()]
            else:
                item[key] = val
        try:
            sensors.append(SensorDoc.model_validate(item))
        except ValidationError as e:
            for err in e.errors():
                col = ".".join(str(p) for p in err["loc"]) or "(row)"
                problems.append(f"{source}: line {line}: column {col}: {err['msg'].removeprefix('Value error, ')}")
    if problems:
        raise CatalogError(problems)
    return CatalogDoc(sensors=sensors)


def dump_document(doc: CatalogDoc, fmt: str) -> str:
    data = doc.model_dump(mode="json", exclude_none=True)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for s in doc.sensors:
            row = s.model_dump(mode="json")
            row["in_use"] = "yes" if s.in_use else "no"
            writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_COLUMNS})
        return buf.getvalue()
    raise CatalogError([f"unknown export format {fmt!r}; use yaml, json or csv"])
